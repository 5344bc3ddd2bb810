#!/usr/bin/env python3
"""PyTorch baseline of the decode step of examples/decode/decode_step.cpp, timed eager and captured.

The state is the example's, at the Llama-8B shape by default (32 layers, 8 KV heads, head dim 128,
fp16, max length 4096, vocab 128256), one tensor per layer per cache as in the example, filled with
the same bytes (the example's Pattern):
  k_cache[l], v_cache[l]  [1, kv_heads, max_length, head_dim] float16
  new_k[l], new_v[l]      [1, kv_heads, 1, head_dim] float16
  kv_delta                [1, kv_heads, 1, head_dim] float16, 0.125
  mask                    [1, max_length] int64
  position_ids            [1, 1] int64
  length                  int32 scalar: tokens in the cache
  logits, logits_delta    [1, vocab] float32
  flip                    [1] float32, -1
  token                   [1] int64
One step, in the example's order (ModelStep, DeviceUpdate, the token's copy to the host):
  per layer: new_k[l] += kv_delta; new_v[l] += kv_delta
  logits *= flip; logits += logits_delta
  per layer: k_cache[l][:, :, length] = new_k[l]; v_cache[l][:, :, length] = new_v[l]
             (index_copy_ with the position read on the device, as KvCacheAppend reads it)
  position_ids += 1; length += 1; mask = [j < length for j in range(max_length)]
  token = argmax(logits, axis 1); token -> host; wait for the device
index_copy_ takes int64 indices where this PyTorch refuses int32 ones: then one cast of `length`
per step is added (the JSON lines say which, as "append_index").

Modes, each at t = 128, 1024 and 4000 tokens in the cache (devtensor's decode cases):
  eager  the ops issued one by one on the current stream
  graph  the step captured once in a torch.cuda.CUDAGraph and replayed
Each repetition moves back to t (the cache keeps its contents, as Decoder::Restart does) and times
--steps steps, one by one, each ending with the token on the host; a repetition's figure is the
median of its steps, the reported figure the median over repetitions, after warm-up steps.

Before timing, the script checks that its step does what the example does: from a fresh state
at the first t it runs --check-steps eager steps and compares every byte of the state (caches,
mask, position ids, length) and every token with values worked out on the host from the example's
definition; then it replays the captured step as many times from a fresh state and compares the
whole state and the tokens with the eager run's. The tokens equal those of the example
(`decode_loop --device cpu` at the same shape, start and steps prints the first and the last).

Output, one JSON object a line on stdout: {"check": ...} once, {"mode": "eager"|"graph", "t": ...,
"us_per_step": ...} per mode and t, and with --devtensor-json (the bench.json of
`devtensor bench --device cuda`) {"ratio": ...} per t: devtensor captured / torch graph (target
<= 0.8) and devtensor device / torch eager (target <= 1.0). A summary goes to stderr.

Usage: torch_decode_step.py [--device cuda|cpu] [--starts 128 1024 4000] [--steps 5]
                            [--repetitions 20] [--warmup 10] [--check-steps 5]
                            [--shape LAYERS KV_HEADS HEAD_DIM MAX_LENGTH VOCAB]
                            [--devtensor-json BENCH.json] [--out FILE.jsonl]
--device cpu runs the check and the eager mode on the CPU (no graph): for trying the script on a
machine without CUDA. Exit status: 0, 1 when the check fails, 77 without PyTorch or its CUDA device.
"""
import argparse
import json
import statistics
import sys
import time

LLAMA_8B = (32, 8, 128, 4096, 128256)
KV_DELTA = 0.125
DEVTENSOR_CAPTURED_TARGET = 0.8
DEVTENSOR_DEVICE_TARGET = 1.0
MASK32 = 0xFFFFFFFF
NOT_HERE = 77  # exit status without PyTorch or, for --device cuda, without a CUDA device


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--starts", type=int, nargs="+", default=[128, 1024, 4000])
    p.add_argument("--steps", type=int, default=5, help="timed steps per repetition")
    p.add_argument("--repetitions", type=int, default=20)
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before timing a mode")
    p.add_argument("--check-steps", type=int, default=5)
    p.add_argument("--shape", type=int, nargs=5, default=list(LLAMA_8B),
                   metavar=("LAYERS", "KV_HEADS", "HEAD_DIM", "MAX_LENGTH", "VOCAB"))
    p.add_argument("--devtensor-json", help="bench.json of `devtensor bench --device cuda`")
    p.add_argument("--out", help="also write the JSON lines to this file")
    args = p.parse_args(argv)
    layers, kv_heads, head_dim, max_length, vocab = args.shape
    if min(args.shape) < 1 or args.steps < 1 or args.repetitions < 1 or args.check_steps < 1:
        p.error("shape, steps, repetitions and check steps must be positive")
    for t in args.starts:
        if t < 1 or t + max(args.steps, args.check_steps) > max_length:
            p.error(f"start {t}: 1 <= start and start + steps <= max length ({max_length})")
    return args


# --- the example's state --------------------------------------------------------------------------

def _mulmod32(torch, values, factor):
    """(values * factor) mod 2^32 for an int64 tensor of values below 2^32, without overflow."""
    low, high = factor & 0xFFFF, factor >> 16
    return (values * low + (((values * high) & 0xFFFF) << 16)) & MASK32


def pattern_bytes(torch, count, seed, device):
    """The bytes of decode_step.cpp's Pattern before its per-type fix-ups: an LCG, top byte each.

    x = seed * 2654435761 + 1; per byte: x = x * 1664525 + 1013904223, byte = x >> 24 (mod 2^32).
    Worked out by doubling: f^k(x) = A_k x + C_k, so the states k..2k-1 follow from 0..k-1.
    """
    a, c = 1664525, 1013904223
    x0 = (seed * 2654435761 + 1) & MASK32
    states = torch.tensor([(a * x0 + c) & MASK32], dtype=torch.int64, device=device)
    step_a, step_c = a, c  # f^len(states)
    while states.numel() < count:
        more = (_mulmod32(torch, states, step_a) + step_c) & MASK32
        states = torch.cat([states, more])
        step_a, step_c = (step_a * step_a) & MASK32, (step_a * step_c + step_c) & MASK32
    return ((states[:count] >> 24) & 0xFF).to(torch.uint8)


def pattern(torch, shape, dtype, seed, device):
    """A tensor of `shape` and `dtype` holding decode_step.cpp's Pattern(seed)."""
    count = 1
    for d in shape:
        count *= d
    size = {torch.float16: 2, torch.float32: 4}[dtype]
    raw = pattern_bytes(torch, count * size, seed, device)
    if dtype == torch.float16:  # keep fp16 values finite and modest: exponent below 15
        raw = raw.view(-1, 2)
        raw[:, 1] &= 0xBB
        return raw.reshape(-1).view(torch.float16).reshape(shape).clone()
    # float: element i is (byte[4 i] % 200 - 100) / 8
    return ((raw[0::4].to(torch.int32) % 200 - 100).to(torch.float32) / 8.0).reshape(shape).clone()


class State:
    """The example's MakeState: the same tensors with the same bytes, `start` tokens in the cache."""

    def __init__(self, torch, shape, device, start):
        self.torch = torch
        layers, heads, dim, max_length, vocab = shape
        self.max_length = max_length
        f16, f32, i64 = torch.float16, torch.float32, torch.int64
        self.k_cache, self.v_cache, self.new_k, self.new_v = [], [], [], []
        for l in range(layers):
            self.k_cache.append(pattern(torch, (1, heads, max_length, dim), f16, l * 2, device))
            self.v_cache.append(pattern(torch, (1, heads, max_length, dim), f16, l * 2 + 1, device))
            self.new_k.append(pattern(torch, (1, heads, 1, dim), f16, 1000 + l * 2, device))
            self.new_v.append(pattern(torch, (1, heads, 1, dim), f16, 1000 + l * 2 + 1, device))
        self.kv_delta = torch.full((1, heads, 1, dim), KV_DELTA, dtype=f16, device=device)
        self.mask = torch.empty((1, max_length), dtype=i64, device=device)
        self.position_ids = torch.empty((1, 1), dtype=i64, device=device)
        self.length = torch.empty((), dtype=torch.int32, device=device)
        self.positions = torch.arange(max_length, dtype=i64, device=device).reshape(1, max_length)
        self.logits = pattern(torch, (1, vocab), f32, 7, device)
        self.logits_delta = pattern(torch, (1, vocab), f32, 8, device)
        self.flip = torch.full((1,), -1.0, dtype=f32, device=device)
        self.token = torch.zeros((1,), dtype=i64, device=device)
        # The token's place on the host: pinned on CUDA, so that its copy can be captured.
        self.token_host = torch.zeros((1,), dtype=i64, pin_memory=(device == "cuda"))
        self.index_int32 = self._index_copy_takes_int32(device)
        self.mask_out = self._lt_writes_int64(device)
        self.set_position(start)

    def _index_copy_takes_int32(self, device):
        torch = self.torch
        try:
            target = torch.zeros((1, 1, 2, 1), device=device)
            target.index_copy_(2, torch.ones((1,), dtype=torch.int32, device=device),
                               torch.ones((1, 1, 1, 1), device=device))
            return bool(target[0, 0, 1, 0].item() == 1 and target[0, 0, 0, 0].item() == 0)
        except (RuntimeError, IndexError, TypeError):
            return False

    def _lt_writes_int64(self, device):
        torch = self.torch
        try:
            out = torch.full((1, 3), 7, dtype=torch.int64, device=device)
            torch.lt(torch.arange(3, device=device).reshape(1, 3),
                     torch.tensor(2, dtype=torch.int32, device=device), out=out)
            return out.tolist() == [[1, 1, 0]]
        except (RuntimeError, TypeError):
            return False

    def append_index(self):
        return "int32 length" if self.index_int32 else "int64 cast of length (one op more per step)"

    def set_position(self, start):
        """SetPosition: position ids start - 1, length start, the mask follows; caches kept."""
        self.position_ids.fill_(start - 1)
        self.length.fill_(start)
        self.update_mask()

    def update_mask(self):
        if self.mask_out:
            self.torch.lt(self.positions, self.length, out=self.mask)
        else:
            self.mask.copy_(self.positions < self.length)

    def step_ops(self):
        """One step's work on the device, without waiting (what the graph records)."""
        for k, v in zip(self.new_k, self.new_v):  # ModelStep
            k.add_(self.kv_delta)
            v.add_(self.kv_delta)
        self.logits.mul_(self.flip)
        self.logits.add_(self.logits_delta)
        # DeviceUpdate: append at `length`, read on the device (a view, or one cast)
        index = self.length.view(1) if self.index_int32 else self.length.to(self.torch.int64).view(1)
        for cache_k, cache_v, k, v in zip(self.k_cache, self.v_cache, self.new_k, self.new_v):
            cache_k.index_copy_(2, index, k)
            cache_v.index_copy_(2, index, v)
        self.position_ids.add_(1)
        self.length.add_(1)
        self.update_mask()
        self.torch.argmax(self.logits, dim=1, keepdim=False, out=self.token)
        self.token_host.copy_(self.token, non_blocking=self.token_host.is_pinned())

    def snapshot(self):
        """What Snapshot() compares: caches, mask, position ids, length and token, on the host."""
        parts = self.k_cache + self.v_cache + [self.mask, self.position_ids, self.length, self.token]
        return [t.detach().to("cpu", copy=True) for t in parts]


class Runner:
    """One mode of running steps: eager ops or a replayed graph, each step waiting for its token."""

    def __init__(self, torch, state, mode, device, warmup, start):
        self.torch, self.state, self.mode, self.device = torch, state, mode, device
        self.graph = None
        if mode == "graph":
            # Warm-up on a side stream before capture, as torch.cuda.graphs asks; every step at
            # `start`, inside the cache.
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(max(warmup, 3)):
                    state.set_position(start)
                    state.step_ops()
            torch.cuda.current_stream().wait_stream(side)
            torch.cuda.synchronize()
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                state.step_ops()
            torch.cuda.synchronize()

    def sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def step(self):
        if self.graph is not None:
            self.graph.replay()
        else:
            self.state.step_ops()
        self.sync()
        return int(self.state.token_host[0])


# --- the check against the example's definition --------------------------------------------------

def expected_after(torch, initial, start, steps):
    """The example's state and tokens after `steps` steps from `initial` (CPU tensors), on the host."""
    new_k = [t.clone() for t in initial["new_k"]]
    new_v = [t.clone() for t in initial["new_v"]]
    k_cache = [t.clone() for t in initial["k_cache"]]
    v_cache = [t.clone() for t in initial["v_cache"]]
    logits = initial["logits"].clone()
    tokens = []
    for i in range(steps):
        at = start + i
        for l in range(len(new_k)):
            # fp16 + fp16: the sum worked out in float, rounded to the nearest fp16 (even on ties)
            new_k[l] = (new_k[l].float() + KV_DELTA).half()
            new_v[l] = (new_v[l].float() + KV_DELTA).half()
            k_cache[l][:, :, at, :] = new_k[l][:, :, 0, :]
            v_cache[l][:, :, at, :] = new_v[l][:, :, 0, :]
        logits = logits * -1.0 + initial["logits_delta"]
        values = logits[0].tolist()
        best = 0
        for j, x in enumerate(values):  # ArgMax: the first largest
            if x > values[best]:
                best = j
        tokens.append(best)
    length = start + steps
    max_length = initial["max_length"]
    mask = torch.tensor([[1 if j < length else 0 for j in range(max_length)]], dtype=torch.int64)
    state = k_cache + v_cache + [mask, torch.tensor([[length - 1]], dtype=torch.int64),
                                 torch.tensor(length, dtype=torch.int32),
                                 torch.tensor([tokens[-1]], dtype=torch.int64)]
    return state, tokens


def same_state(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and x.shape == y.shape and torch_equal_bytes(x, y)
                                    for x, y in zip(a, b))


def torch_equal_bytes(x, y):
    import torch
    if x.dtype.is_floating_point:  # bytes, not values: -0 and 0 differ, NaN equals itself
        bits = {torch.float16: torch.int16, torch.float32: torch.int32}[x.dtype]
        return torch.equal(x.contiguous().view(bits), y.contiguous().view(bits))
    return torch.equal(x, y)


def check(torch, args, device):
    start, steps = args.starts[0], args.check_steps
    state = State(torch, args.shape, device, start)
    def host(t):  # a copy also on the CPU, where .cpu() would alias the state
        return t.detach().to("cpu", copy=True)

    initial = {
        "new_k": [host(t) for t in state.new_k], "new_v": [host(t) for t in state.new_v],
        "k_cache": [host(t) for t in state.k_cache], "v_cache": [host(t) for t in state.v_cache],
        "logits": host(state.logits), "logits_delta": host(state.logits_delta),
        "max_length": state.max_length,
    }
    eager = Runner(torch, state, "eager", device, 0, start)
    tokens = [eager.step() for _ in range(steps)]
    got = state.snapshot()
    want, want_tokens = expected_after(torch, initial, start, steps)
    problems = []
    if tokens != want_tokens:
        problems.append(f"eager tokens {tokens}, the example's {want_tokens}")
    names = [f"k_cache[{l}]" for l in range(len(state.k_cache))] + \
            [f"v_cache[{l}]" for l in range(len(state.v_cache))] + ["mask", "position_ids", "length", "token"]
    for name, g, w in zip(names, got, want):
        if g.dtype != w.dtype or g.shape != w.shape or not torch_equal_bytes(g, w):
            problems.append(f"eager {name} differs from the example's")
    del state, eager
    graph_tokens = None
    if device == "cuda":
        state = State(torch, args.shape, device, start)
        fresh = state.snapshot()
        runner = Runner(torch, state, "graph", device, args.warmup, start)  # warm-up changes the state
        restore(state, initial, fresh, start)
        graph_tokens = [runner.step() for _ in range(steps)]
        if graph_tokens != tokens:
            problems.append(f"graph tokens {graph_tokens}, eager {tokens}")
        if not same_state(state.snapshot(), got):
            problems.append("the graph's state differs from the eager state")
        del state, runner
        torch.cuda.empty_cache()
    return {
        "check": "ok" if not problems else "FAILED",
        "problems": problems,
        "t": start,
        "steps": steps,
        "tokens": tokens,
        "graph_tokens": graph_tokens,
        "compared_with": "decode_loop --device cpu --layers {} --kv-heads {} --head-dim {} --max-length {} "
                         "--vocab {} --start {} --steps {}".format(*args.shape, start, steps),
    }


def restore(state, initial, fresh, start):
    """Puts back the state of a fresh MakeState (what warm-up and capture changed)."""
    layers = len(state.k_cache)
    for l in range(layers):
        state.new_k[l].copy_(initial["new_k"][l])
        state.new_v[l].copy_(initial["new_v"][l])
        state.k_cache[l].copy_(fresh[l])
        state.v_cache[l].copy_(fresh[layers + l])
    state.logits.copy_(initial["logits"])
    state.token.zero_()
    state.set_position(start)
    if state.token.is_cuda:
        state.torch.cuda.synchronize()


# --- timing --------------------------------------------------------------------------------------

def time_mode(torch, runner, state, args, t):
    """Median over repetitions of the median step time (µs) of each, from t."""
    for _ in range(args.warmup):  # every warm-up step at t, inside the cache
        state.set_position(t)
        runner.step()
    medians = []
    for _ in range(args.repetitions):
        state.set_position(t)
        runner.sync()
        seconds = []
        for _ in range(args.steps):
            begin = time.perf_counter()
            runner.step()  # ends with the token on the host: the device has finished the step
            seconds.append(time.perf_counter() - begin)
        medians.append(statistics.median(seconds))
    return statistics.median(medians) * 1e6, [m * 1e6 for m in medians]


def devtensor_decode(path):
    """devtensor's ms per step by t and mode from `devtensor bench`'s bench.json."""
    with open(path) as f:
        data = json.load(f)
    summary = data.get("devtensor_bench", {})
    return summary.get("device", "?"), summary.get("decode", {}).get("ms_per_step", {})


def ratio_line(t, devtensor_ms, figures, devtensor_device, torch_device):
    """devtensor's step time over PyTorch's at t: captured / graph and device / eager."""
    line = {"bench": "decode_ratio", "t": t, "devtensor": devtensor_device, "torch_device": torch_device}
    pairs = [("captured", "graph", DEVTENSOR_CAPTURED_TARGET), ("device", "eager", DEVTENSOR_DEVICE_TARGET)]
    for devtensor_mode, torch_mode, target in pairs:
        ms = devtensor_ms.get(devtensor_mode)
        us = figures.get((torch_mode, t))
        key = f"{devtensor_mode}_over_torch_{torch_mode}"
        line[f"devtensor_{devtensor_mode}_us"] = None if ms is None else round(ms * 1e3, 3)
        line[f"torch_{torch_mode}_us"] = None if us is None else round(us, 3)
        line[key] = None if ms is None or us is None else round(ms * 1e3 / us, 4)
        line[f"{devtensor_mode}_target"] = f"<= {target}"
        line[f"{devtensor_mode}_met"] = None if line[key] is None else line[key] <= target
        print(f"t = {t:5d}: devtensor {devtensor_mode} / torch {torch_mode}: "
              f"{'-' if line[key] is None else line[key]} (target <= {target})", file=sys.stderr)
    return line


def main(argv=None):
    args = parse_args(argv)
    lines = []

    def emit(obj):
        text = json.dumps(obj, sort_keys=False)
        print(text, flush=True)
        lines.append(text)

    try:
        import torch
    except ImportError as e:
        print(f"torch_decode_step: no PyTorch here ({e})", file=sys.stderr)
        return NOT_HERE
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("torch_decode_step: PyTorch has no CUDA device here (--device cpu runs the check and the "
              "eager mode on the CPU)", file=sys.stderr)
        return NOT_HERE
    device_name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    common = {"bench": "torch_decode_step", "torch": torch.__version__, "device": device_name,
              "shape": dict(zip(["layers", "kv_heads", "head_dim", "max_length", "vocab"], args.shape))}
    torch.set_grad_enabled(False)

    result = check(torch, args, device)
    emit({**common, **result})
    print(f"check at t = {result['t']}, {result['steps']} steps: {result['check']}; tokens {result['tokens']}"
          + "".join(f"\n  {p}" for p in result["problems"]), file=sys.stderr)
    if result["check"] != "ok":
        return 1

    state = State(torch, args.shape, device, args.starts[0])
    figures = {}
    modes = ["eager", "graph"] if device == "cuda" else ["eager"]
    for mode in modes:
        runner = Runner(torch, state, mode, device, args.warmup, args.starts[0])
        for t in args.starts:
            us, per_repetition = time_mode(torch, runner, state, args, t)
            figures[(mode, t)] = us
            emit({**common, "mode": mode, "t": t, "us_per_step": round(us, 3), "steps": args.steps,
                  "repetitions": args.repetitions, "warmup": args.warmup,
                  "append_index": state.append_index(),
                  "us_per_repetition": [round(x, 3) for x in per_repetition]})
            print(f"torch {mode:5s} t = {t:5d}: {us:10.1f} µs per step", file=sys.stderr)
        del runner
    if device == "cpu":
        print("graph mode left out: CUDA graphs need --device cuda", file=sys.stderr)

    if args.devtensor_json:
        try:
            devtensor_device, ms = devtensor_decode(args.devtensor_json)
        except (OSError, ValueError) as e:
            print(f"torch_decode_step: cannot read {args.devtensor_json}: {e}", file=sys.stderr)
            devtensor_device, ms = f"unknown (cannot read {args.devtensor_json})", {}
        for t in args.starts:
            emit(ratio_line(t, ms.get(str(t)) or {}, figures, devtensor_device, device_name))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
