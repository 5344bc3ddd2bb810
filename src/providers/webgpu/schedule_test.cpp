// How a schedule places commands into levels, on plain data: byte ranges of buffers that are never
// touched (no device needed). Commands of one level run with no order between them, so every
// pair of commands whose bytes conflict must land on different levels, in the order recorded.
#include "providers/webgpu/schedule.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "test_util.h"

namespace devtensor::webgpu {
namespace {

using Kind = CommandList::Kind;

// A buffer handle for the placement logic, which only compares handles.
wgpu::Buffer BufferNamed(uintptr_t id) { return reinterpret_cast<wgpu::Buffer>(id * 256); }

const wgpu::Buffer kA = BufferNamed(1), kB = BufferNamed(2), kC = BufferNamed(3);
const wgpu::Buffer kFlags = BufferNamed(9);

Access Read(wgpu::Buffer buffer, uint64_t begin, uint64_t end) {
  return {buffer, begin, end, Access::kRead};
}
Access Write(wgpu::Buffer buffer, uint64_t begin, uint64_t end) {
  return {buffer, begin, end, Access::kWrite};
}
Access Flag() { return {kFlags, 0, 16, Access::kFlag}; }

CommandList::Command CopyCommand(wgpu::Buffer src, uint64_t src_offset, wgpu::Buffer dst,
                                 uint64_t dst_offset, uint64_t size) {
  return {Kind::kCopy, src, dst, src_offset, dst_offset, size, nullptr, nullptr, 0, 0, 0};
}
CommandList::Command ClearCommand(wgpu::Buffer dst, uint64_t offset, uint64_t size) {
  return {Kind::kClear, nullptr, dst, 0, offset, size, nullptr, nullptr, 0, 0, 0};
}
CommandList::Command BoundDispatchCommand() {
  return {Kind::kDispatch, nullptr, nullptr, 0, 0, 0, nullptr, nullptr, 1, 1, 0};
}
CommandList::Command OpCommand(size_t op) {
  return {Kind::kOp, nullptr, nullptr, 0, 0, 0, nullptr, nullptr, 0, 0, op};
}

// An op of `family` writing [out_begin, out_end) of `out` and reading `inputs` (buffer, begin,
// end), bound over whole windows as the recording does.
OpDispatch Op(const KernelFamily& family, wgpu::Buffer out, uint64_t out_begin, uint64_t out_end,
              const std::vector<Access>& inputs = {}) {
  OpDispatch op;
  op.family = &family;
  op.roles[0] = {out, 0, out_end, out_begin, out_end};
  for (size_t i = 0; i < inputs.size(); ++i) {
    op.roles[1 + i] = {inputs[i].buffer, 0, inputs[i].end, inputs[i].begin, inputs[i].end};
  }
  op.flags = family.uses_flags ? kFlags : nullptr;
  return op;
}

// The levels of `commands` (of one list whose ops are `ops`), placed as Schedule::Make places
// them when it reorders.
std::vector<size_t> LevelsOf(const std::vector<CommandList::Command>& commands,
                             const std::vector<OpDispatch>& ops = {}) {
  LevelPlacer placer;
  std::vector<Access> accesses;
  std::vector<size_t> levels;
  for (const CommandList::Command& command : commands) {
    levels.push_back(AccessesOf(command, ops, &accesses) ? placer.Place(accesses)
                                                         : placer.PlaceAlone());
  }
  return levels;
}

using Levels = std::vector<size_t>;

TEST(ScheduleConflict, OverlappingBytesOfOneBufferWithAWriteConflict) {
  EXPECT_TRUE(Conflict(Write(kA, 0, 8), Write(kA, 4, 12)));
  EXPECT_TRUE(Conflict(Read(kA, 0, 8), Write(kA, 7, 8)));
  EXPECT_TRUE(Conflict(Write(kA, 0, 8), Read(kA, 0, 1)));
  EXPECT_FALSE(Conflict(Read(kA, 0, 8), Read(kA, 0, 8)));  // two reads never conflict
}

TEST(ScheduleConflict, DisjointBytesAndOtherBuffersDoNotConflict) {
  EXPECT_FALSE(Conflict(Write(kA, 0, 8), Write(kA, 8, 16)));  // adjacent, not overlapping
  EXPECT_FALSE(Conflict(Write(kA, 8, 16), Write(kA, 0, 8)));
  EXPECT_FALSE(Conflict(Write(kA, 0, 8), Write(kB, 0, 8)));
}

TEST(ScheduleConflict, FlagRaisesConflictOnlyWithReadsAndWritesOfTheFlags) {
  EXPECT_FALSE(Conflict(Flag(), Flag()));  // ORing bits in commutes
  EXPECT_TRUE(Conflict(Flag(), Read(kFlags, 0, 16)));
  EXPECT_TRUE(Conflict(Read(kFlags, 0, 4), Flag()));
  EXPECT_TRUE(Conflict(Flag(), Write(kFlags, 0, 16)));
  EXPECT_TRUE(Conflict(Write(kFlags, 12, 16), Flag()));
}

TEST(ScheduleAccesses, CopyReadsItsSourceAndWritesItsDestination) {
  std::vector<Access> accesses;
  ASSERT_TRUE(AccessesOf(CopyCommand(kA, 16, kB, 32, 8), {}, &accesses));
  ASSERT_EQ(accesses.size(), 2u);
  EXPECT_EQ(accesses[0].buffer, kA);
  EXPECT_EQ(accesses[0].begin, 16u);
  EXPECT_EQ(accesses[0].end, 24u);
  EXPECT_EQ(accesses[0].mode, Access::kRead);
  EXPECT_EQ(accesses[1].buffer, kB);
  EXPECT_EQ(accesses[1].begin, 32u);
  EXPECT_EQ(accesses[1].end, 40u);
  EXPECT_EQ(accesses[1].mode, Access::kWrite);
}

TEST(ScheduleAccesses, ClearWritesItsRange) {
  std::vector<Access> accesses{Read(kC, 0, 1)};  // replaced, not appended to
  ASSERT_TRUE(AccessesOf(ClearCommand(kA, 4, 12), {}, &accesses));
  ASSERT_EQ(accesses.size(), 1u);
  EXPECT_EQ(accesses[0].buffer, kA);
  EXPECT_EQ(accesses[0].begin, 4u);
  EXPECT_EQ(accesses[0].end, 16u);
  EXPECT_EQ(accesses[0].mode, Access::kWrite);
}

TEST(ScheduleAccesses, ADispatchBoundByItsMakerHasNoKnownAccesses) {
  std::vector<Access> accesses;
  EXPECT_FALSE(AccessesOf(BoundDispatchCommand(), {}, &accesses));
}

TEST(ScheduleAccesses, OpWritesItsOutputReadsItsInputsAndRaisesFlags) {
  KernelFamily family;
  family.inputs = 2;
  family.uses_flags = true;
  std::vector<OpDispatch> ops = {
      Op(family, kA, 8, 24, {Read(kB, 0, 64), Read(kC, 100, 104)})};
  ops[0].roles[3] = {kC, 0, 4096, 0, 4096};  // beyond the family's inputs: not an access
  std::vector<Access> accesses;
  ASSERT_TRUE(AccessesOf(OpCommand(0), ops, &accesses));
  ASSERT_EQ(accesses.size(), 4u);
  EXPECT_EQ(accesses[0].buffer, kA);
  EXPECT_EQ(accesses[0].begin, 8u);  // the tensor's bytes, not the bound window's
  EXPECT_EQ(accesses[0].end, 24u);
  EXPECT_EQ(accesses[0].mode, Access::kWrite);
  EXPECT_EQ(accesses[1].buffer, kB);
  EXPECT_EQ(accesses[1].mode, Access::kRead);
  EXPECT_EQ(accesses[2].buffer, kC);
  EXPECT_EQ(accesses[2].begin, 100u);
  EXPECT_EQ(accesses[2].end, 104u);
  EXPECT_EQ(accesses[2].mode, Access::kRead);
  EXPECT_EQ(accesses[3].buffer, kFlags);
  EXPECT_EQ(accesses[3].mode, Access::kFlag);

  family.uses_flags = false;
  ASSERT_TRUE(AccessesOf(OpCommand(0), ops, &accesses));
  EXPECT_EQ(accesses.size(), 3u);
}

TEST(ScheduleLevels, IndependentCommandsShareTheFirstLevel) {
  EXPECT_EQ(LevelsOf({CopyCommand(kA, 0, kB, 0, 16), CopyCommand(kA, 0, kC, 0, 16),
                      ClearCommand(kB, 16, 16), CopyCommand(kA, 64, kC, 64, 16)}),
            (Levels{0, 0, 0, 0}));
}

TEST(ScheduleLevels, AReadAfterAnOverlappingWriteWaitsForIt) {
  EXPECT_EQ(LevelsOf({ClearCommand(kA, 0, 16), CopyCommand(kA, 12, kB, 0, 8)}), (Levels{0, 1}));
}

TEST(ScheduleLevels, AWriteNeverMovesPastAnOverlappingRead) {
  EXPECT_EQ(LevelsOf({CopyCommand(kA, 0, kB, 0, 16), ClearCommand(kA, 15, 1)}), (Levels{0, 1}));
}

TEST(ScheduleLevels, AWriteNeverMovesPastAnOverlappingWrite) {
  EXPECT_EQ(LevelsOf({ClearCommand(kA, 0, 16), CopyCommand(kB, 0, kA, 8, 16)}), (Levels{0, 1}));
}

TEST(ScheduleLevels, ReadsOfTheSameBytesShareALevel) {
  EXPECT_EQ(LevelsOf({CopyCommand(kA, 0, kB, 0, 16), CopyCommand(kA, 0, kC, 0, 16)}),
            (Levels{0, 0}));
}

TEST(ScheduleLevels, DisjointBytesOfOneBufferAreIndependent) {
  EXPECT_EQ(LevelsOf({ClearCommand(kA, 0, 16), ClearCommand(kA, 16, 16),
                      CopyCommand(kB, 0, kA, 32, 16)}),
            (Levels{0, 0, 0}));
}

TEST(ScheduleLevels, ACommandGoesRightAfterTheLatestCommandItDependsOn) {
  // A chain through A, and independent work on C that moves up past it.
  EXPECT_EQ(LevelsOf({ClearCommand(kA, 0, 16), CopyCommand(kA, 0, kB, 0, 16),
                      ClearCommand(kA, 0, 16), ClearCommand(kC, 0, 16),
                      CopyCommand(kB, 0, kC, 16, 16)}),
            (Levels{0, 1, 2, 0, 2}));
}

TEST(ScheduleLevels, AWriteGoesAfterTheLatestOverlappingAccess) {
  // A's first half is read on level 0; its second half written on level 1 (after B's clear) and
  // read on level 2: a clear of all of A goes after the latest of them.
  EXPECT_EQ(LevelsOf({CopyCommand(kA, 0, kC, 0, 8), ClearCommand(kB, 0, 8),
                      CopyCommand(kB, 0, kA, 8, 8), CopyCommand(kA, 8, kC, 8, 8),
                      ClearCommand(kA, 0, 16)}),
            (Levels{0, 0, 1, 2, 3}));
}

TEST(ScheduleLevels, ADispatchBoundByItsMakerIsABarrier) {
  // Nothing before it runs on its level or after, nothing after it runs on its level or before,
  // even work on buffers it cannot be known to use.
  EXPECT_EQ(LevelsOf({ClearCommand(kA, 0, 16), CopyCommand(kA, 0, kB, 0, 16),
                      BoundDispatchCommand(), ClearCommand(kC, 0, 16), ClearCommand(kC, 16, 16),
                      BoundDispatchCommand(), BoundDispatchCommand(), ClearCommand(kA, 0, 4)}),
            (Levels{0, 1, 2, 3, 3, 4, 5, 6}));
}

TEST(ScheduleLevels, CommandsPlacedAloneKeepTheirOrder) {
  // Without reordering (batching off, or no op in the lists) every command is placed alone.
  LevelPlacer placer;
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(placer.PlaceAlone(), i);
  EXPECT_EQ(placer.levels(), 5u);
}

TEST(ScheduleLevels, LevelsCountsTheLevelsUsed) {
  LevelPlacer placer;
  EXPECT_EQ(placer.levels(), 0u);
  placer.Place({Write(kA, 0, 4)});
  placer.Place({Write(kB, 0, 4)});
  EXPECT_EQ(placer.levels(), 1u);
  placer.Place({Read(kA, 0, 4)});
  EXPECT_EQ(placer.levels(), 2u);
  placer.Place({Read(kB, 0, 4)});  // at level 1 too
  EXPECT_EQ(placer.levels(), 2u);
}

TEST(ScheduleLevels, IndependentOpsOfOneLayerShareALevel) {
  // A decode layer's pattern: three ops on views of one buffer, each writing its own slice from
  // a shared input, then an op that reads all three slices.
  KernelFamily unary;
  unary.inputs = 1;
  KernelFamily binary;
  binary.inputs = 2;
  const std::vector<OpDispatch> ops = {
      Op(unary, kB, 0, 256, {Read(kA, 0, 256)}), Op(unary, kB, 256, 512, {Read(kA, 0, 256)}),
      Op(unary, kB, 512, 768, {Read(kA, 0, 256)}),
      Op(binary, kC, 0, 256, {Read(kB, 0, 768), Read(kA, 0, 256)})};
  EXPECT_EQ(LevelsOf({OpCommand(0), OpCommand(1), OpCommand(2), OpCommand(3)}, ops),
            (Levels{0, 0, 0, 1}));
}

TEST(ScheduleLevels, OpsAndCopiesOrderThroughTheBytesTheyShare) {
  KernelFamily unary;
  unary.inputs = 1;
  const std::vector<OpDispatch> ops = {Op(unary, kA, 0, 64, {Read(kC, 0, 64)}),
                                       Op(unary, kC, 0, 64, {Read(kB, 0, 64)})};
  EXPECT_EQ(LevelsOf({
                CopyCommand(kB, 0, kC, 0, 64),   // writes C
                OpCommand(0),                    // reads C: after the copy
                CopyCommand(kA, 32, kB, 64, 8),  // reads what op 0 writes: after it
                CopyCommand(kA, 64, kB, 72, 8),  // bytes op 0 does not write: at once
                OpCommand(1),                    // writes C, which op 0 reads: after it
            },
                     ops),
            (Levels{0, 1, 2, 0, 2}));
}

TEST(ScheduleLevels, OpsThatOnlyRaiseFlagsDoNotDependOnEachOther) {
  KernelFamily scatter;
  scatter.inputs = 1;
  scatter.uses_flags = true;
  const std::vector<OpDispatch> ops = {Op(scatter, kA, 0, 64, {Read(kC, 0, 64)}),
                                       Op(scatter, kB, 0, 64, {Read(kC, 0, 64)})};
  // Both raise flags on level 0; reading the flags waits for both, and clearing them for the read.
  EXPECT_EQ(LevelsOf({OpCommand(0), OpCommand(1), CopyCommand(kFlags, 0, kC, 64, 16),
                      ClearCommand(kFlags, 0, 16)},
                     ops),
            (Levels{0, 0, 1, 2}));
}

TEST(ScheduleLevels, RandomCommandsKeepEveryConflictInOrderAndRunAsEarlyAsTheyMay) {
  devtensor_test::Random fresh;  // a fresh seed each run (test_util.h)
  SCOPED_TRACE(fresh.trace());
  std::mt19937_64& random = fresh.engine;
  auto pick = [&](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(random); };
  for (int round = 0; round < 200; ++round) {
    LevelPlacer placer;
    std::vector<std::vector<Access>> commands;  // empty: placed alone
    std::vector<size_t> levels;
    const size_t count = 1 + pick(40);
    for (size_t i = 0; i < count; ++i) {
      std::vector<Access> accesses;
      if (pick(20) != 0) {
        const uint32_t n = 1 + pick(3);
        for (uint32_t a = 0; a < n; ++a) {
          const uint64_t begin = 4 * pick(16), size = 4 * (1 + pick(6));
          const Access::Mode mode = static_cast<Access::Mode>(pick(3));
          accesses.push_back({BufferNamed(1 + pick(3)), begin, begin + size, mode});
        }
      }
      levels.push_back(accesses.empty() ? placer.PlaceAlone() : placer.Place(accesses));
      commands.push_back(accesses);
    }
    size_t used = 0;
    for (size_t j = 0; j < count; ++j) {
      // The level j must take: after each earlier command it conflicts with, and after each
      // earlier command placed alone; a command placed alone after everything.
      size_t earliest = 0;
      for (size_t i = 0; i < j; ++i) {
        bool depends = commands[i].empty() || commands[j].empty();
        for (const Access& a : commands[i]) {
          for (const Access& b : commands[j]) depends = depends || Conflict(a, b);
        }
        if (depends) earliest = std::max(earliest, levels[i] + 1);
      }
      if (commands[j].empty()) earliest = std::max(earliest, used);
      EXPECT_EQ(levels[j], earliest) << "round " << round << ", command " << j;
      used = std::max(used, levels[j] + 1);
    }
    EXPECT_EQ(placer.levels(), used);
  }
}

}  // namespace
}  // namespace devtensor::webgpu
