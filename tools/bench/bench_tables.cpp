#include "bench_tables.h"

#include <algorithm>
#include <map>

#include "text_format.h"

namespace devtensor::tools {
namespace {

bool IsDecode(const Row& row) { return row.family == "decode"; }

std::string Signature(const Row& row) {
  std::string s;
  for (const Figure& f : row.figures) s += f.contender + ",";
  return s;
}

// Transfers, where bandwidth is what is asked, apart from the rest.
bool IsTransfer(const Row& row) {
  return row.family == "upload" || row.family == "download" || row.family == "device_copy" ||
         row.family == "upload_pageable" || row.family == "download_pageable" || row.family == "cpu_copy";
}

std::string FigureCell(const Row& row, const Figure* f) {
  if (f == nullptr) return "-";
  if (!ShowsBandwidth(row, *f)) return TimeText(f->us);
  return RateText(f->gbps) + " GB/s  " + TimeText(f->us);
}

// Cases with the same contenders, in the order they ran, rows sorted by case then size.
Table CaseTable(const std::vector<const Row*>& rows) {
  Table t;
  std::vector<std::string> families;
  for (const Row* r : rows) {
    if (std::find(families.begin(), families.end(), r->family) == families.end()) families.push_back(r->family);
  }
  for (const std::string& family : families) t.title += (t.title.empty() ? "" : ", ") + family;
  const std::vector<Figure>& figures = rows.front()->figures;
  const std::string subject = Label(figures.front().contender);
  t.head = {"case", "size"};
  for (const Figure& f : figures) t.head.push_back(Label(f.contender));
  for (size_t i = 1; i < figures.size(); ++i) t.head.push_back(Label(figures[i].contender) + " / " + subject);
  std::vector<const Row*> sorted = rows;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Row* a, const Row* b) {
    const auto fa = std::find(families.begin(), families.end(), a->family);
    const auto fb = std::find(families.begin(), families.end(), b->family);
    return fa != fb ? fa < fb : a->size < b->size;
  });
  for (const Row* r : sorted) {
    std::vector<std::string> cells = {r->family, SizeText(r->size)};
    for (const Figure& f : figures) cells.push_back(FigureCell(*r, r->find(f.contender)));
    for (size_t i = 1; i < figures.size(); ++i) {
      const Figure* f = r->find(figures[i].contender);
      cells.push_back(RatioText(f ? f->ratio : NAN));
    }
    t.rows.push_back(cells);
  }
  return t;
}

double Milliseconds(const Row& row, const char* mode) {
  const Figure* f = row.find(mode);
  return f ? f->us / 1e3 : NAN;
}

Table DecodeTable(const std::vector<const Row*>& unsorted) {
  std::vector<const Row*> rows = unsorted;
  std::sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) { return a->size < b->size; });
  Table t;
  t.label_columns = 1;
  t.title = "decode step, Llama-8B shape (32 layers, 8 KV heads, head dim 128, fp16, max length 4096, "
            "vocab 128256): time per step";
  t.head = {"t", "host", "device", "captured", "host / device", "device / captured"};
  const char* modes[] = {"host", "device", "captured"};
  for (const Row* r : rows) {
    std::vector<std::string> cells = {std::to_string(r->size)};
    for (const char* mode : modes) cells.push_back(TimeText(Milliseconds(*r, mode) * 1e3));
    cells.push_back(RatioText(Milliseconds(*r, "host") / Milliseconds(*r, "device")));
    cells.push_back(RatioText(Milliseconds(*r, "device") / Milliseconds(*r, "captured")));
    t.rows.push_back(cells);
  }
  if (rows.size() >= 2) {
    const Row& first = *rows.front();
    const Row& last = *rows.back();
    std::string note = "flatness, time per step at t = " + std::to_string(last.size) + " / at t = " +
                       std::to_string(first.size) + ":";
    for (const char* mode : modes) {
      note += std::string(" ") + mode + " " + RatioText(Milliseconds(last, mode) / Milliseconds(first, mode));
    }
    t.notes.push_back(note);
  }
  return t;
}

// Columns of display characters: UTF-8 continuation bytes take no room.
size_t Width(const std::string& s) {
  return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string Pad(const std::string& s, size_t width, bool right) {
  const std::string fill(width > Width(s) ? width - Width(s) : 0, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::vector<Table> BuildTables(const Results& results) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Row*>> groups;
  std::vector<const Row*> decode, failed;
  for (const Row& row : results.rows()) {
    if (!row.error.empty() || row.figures.empty()) {
      failed.push_back(&row);
    } else if (IsDecode(row)) {
      decode.push_back(&row);
    } else {
      const std::string key = Signature(row) + (IsTransfer(row) ? "transfer" : "");
      if (!groups.count(key)) order.push_back(key);
      groups[key].push_back(&row);
    }
  }
  std::vector<Table> tables;
  for (const std::string& key : order) tables.push_back(CaseTable(groups[key]));
  if (!decode.empty()) tables.push_back(DecodeTable(decode));
  if (!failed.empty()) {
    Table t;
    t.title = "cases that failed";
    t.head = {"case", "error"};
    for (const Row* r : failed) t.rows.push_back({r->name, r->error.empty() ? "no figures" : r->error});
    tables.push_back(t);
  }
  return tables;
}

std::string TextTables(const std::string& heading, const std::vector<std::string>& notes,
                       const std::vector<Table>& tables) {
  std::string out = heading + "\n";
  for (const std::string& note : notes) out += "  " + note + "\n";
  for (const Table& t : tables) {
    std::vector<size_t> widths(t.head.size(), 0);
    for (size_t c = 0; c < t.head.size(); ++c) widths[c] = Width(t.head[c]);
    for (const auto& row : t.rows) {
      for (size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], Width(row[c]));
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s;
      for (size_t c = 0; c < cells.size() && c < widths.size(); ++c) {
        s += (c ? "   " : "") + Pad(cells[c], widths[c], c >= t.label_columns);
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s + "\n";
    };
    out += "\n" + t.title + "\n" + line(t.head);
    size_t total = 0;
    for (size_t w : widths) total += w;
    out += std::string(total + 3 * (widths.size() - 1), '-') + "\n";
    for (const auto& row : t.rows) out += line(row);
    for (const std::string& note : t.notes) out += note + "\n";
  }
  return out;
}

std::string MarkdownTables(const std::string& heading, const std::vector<std::string>& notes,
                           const std::vector<Table>& tables) {
  std::string out = "# " + heading + "\n\n";
  for (const std::string& note : notes) out += "- " + note + "\n";
  auto line = [](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (const std::string& c : cells) s += " " + c + " |";
    return s + "\n";
  };
  for (const Table& t : tables) {
    out += "\n## " + t.title + "\n\n" + line(t.head) + "|";
    for (size_t c = 0; c < t.head.size(); ++c) out += c < t.label_columns ? "---|" : "---:|";
    out += "\n";
    for (const auto& row : t.rows) out += line(row);
    if (!t.notes.empty()) out += "\n";
    for (const std::string& note : t.notes) out += note + "\n";
  }
  return out;
}

}  // namespace devtensor::tools
