// `kemu checks [CHECK] [--json PATH|-]`: the check catalog (verifier/catalog.h)
// as an aligned table, one check in detail, or a JSON array.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace kemu::cli {

struct ChecksOptions {
  std::string check;  // one id: print it in detail
  std::string json;   // --json PATH, "-" for stdout, empty for none
};

void add_checks_options(CLI::App& app, ChecksOptions& o);

// One line per check: id, severity, "implemented" or "not yet", title,
// Microsoft equivalent, in aligned columns under a header line.
std::string render_checks_table();
// Every field of one check (the id must be in the catalog).
std::string render_check_detail(const std::string& id);
// The catalog as a JSON array of {id, severity, implemented, title, seen,
// microsoft, rule, fix}, without a trailing newline.
std::string render_checks_json();

// Prints what `o` asks for; returns the exit status (2 for an unknown id).
int checks_command(const ChecksOptions& o);

}  // namespace kemu::cli
