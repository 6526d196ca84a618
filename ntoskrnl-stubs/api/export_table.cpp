#include "ntoskrnl-stubs/api/export_table.h"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace kemu::nt {

extern const char kExportsTsv[];  // generated from exports/exports.tsv

const char* to_string(ReturnClass c) {
  switch (c) {
    case ReturnClass::Status: return "status";
    case ReturnClass::Void: return "void";
    case ReturnClass::Bool: return "bool";
    case ReturnClass::Pointer: return "pointer";
    case ReturnClass::Integer: return "integer";
    case ReturnClass::Unknown: return "unknown";
  }
  return "?";
}

namespace {

std::vector<std::string_view> split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + sep.size();
  }
  return out;
}

ReturnClass parse_class(std::string_view s, size_t line) {
  if (s == "status") return ReturnClass::Status;
  if (s == "void") return ReturnClass::Void;
  if (s == "bool") return ReturnClass::Bool;
  if (s == "pointer") return ReturnClass::Pointer;
  if (s == "integer") return ReturnClass::Integer;
  if (s == "unknown" || s == "-") return ReturnClass::Unknown;
  throw std::runtime_error(fmt::format("exports table line {}: bad return class '{}'", line, s));
}

}  // namespace

std::vector<ExportDesc> parse_export_table(std::string_view tsv) {
  std::vector<ExportDesc> out;
  size_t line_no = 0;
  for (std::string_view line : split(tsv, "\n")) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto f = split(line, "\t");
    if (f.size() != 7)
      throw std::runtime_error(fmt::format("exports table line {}: {} fields, expected 7", line_no, f.size()));
    ExportDesc d;
    d.module = std::string(f[0]);
    d.name = std::string(f[1]);
    if (f[2] == "function") d.kind = ExportKind::Function;
    else if (f[2] == "data") d.kind = ExportKind::Data;
    else throw std::runtime_error(fmt::format("exports table line {}: bad kind '{}'", line_no, f[2]));
    d.return_class = parse_class(f[3], line_no);
    d.return_type = std::string(f[4]);
    if (d.kind == ExportKind::Data) {
      d.parameters.emplace_back(f[5]);
      d.prototype_known = f[5] != "?";
    } else if (f[5] != "?") {
      d.prototype_known = true;
      if (f[5] != "void" && !f[5].empty()) {
        for (auto p : split(f[5], "; ")) {
          if (p == "...") d.variadic = true;
          else d.parameters.emplace_back(p);
        }
      }
    }
    auto [ptr, ec] = std::from_chars(f[6].data(), f[6].data() + f[6].size(), d.data_size);
    if (ec != std::errc())
      throw std::runtime_error(fmt::format("exports table line {}: bad data size '{}'", line_no, f[6]));
    out.push_back(std::move(d));
  }
  return out;
}

const std::vector<ExportDesc>& builtin_exports() {
  static const std::vector<ExportDesc> table = parse_export_table(kExportsTsv);
  return table;
}

}  // namespace kemu::nt
