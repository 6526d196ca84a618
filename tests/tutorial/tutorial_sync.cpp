// tutorial_sync: keeps the kemu output shown in the tutorial (docs/tutorial/*.md)
// equal to what kemu prints now.
//
//   tutorial_sync check  --kemu PATH --source DIR --build DIR FILE_OR_DIR...
//   tutorial_sync update --kemu PATH --source DIR --build DIR FILE_OR_DIR...
//
// A shown run is a fenced block whose first line is `$ kemu ...`; the lines
// after it, up to the closing fence, are kemu's output. The command runs as a
// reader would type it at the repository root: in a scratch directory where
// every top-level entry of the source tree is linked and `build` links to the
// build directory, so `build/samples-bin/x.sys` and `samples/bugs/...` resolve
// wherever the tree and the build live. The output is shown whole except by
// one rule (docs/tutorial/README.md, "How the shown output is kept true"): a
// report section begins at a line that does not start with a space and its
// key is that line's first word; `show=KEY,KEY` in the fence's info string
// keeps those sections, without it every section but `stats` (wall-clock
// time) is kept, and each run of left-out sections is one line `...`.
// `KEY/N` keeps only part N of a section (parts begin at lines indented by
// two spaces: a step of `explain`, a check of `findings`, a request of
// `requests`); each run of left-out parts is one line `  ...`.
//
// check: prints a unified diff for every block that differs and exits 1.
// update: rewrites the blocks in place.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrompt = "$ ";
constexpr std::string_view kElided = "...";

struct Options {
  bool update = false;
  fs::path kemu, source, build;
  std::vector<fs::path> inputs;
};

// One `$ kemu ...` block of a lesson.
struct Block {
  size_t command_line = 0;        // index of the `$ kemu` line
  size_t end_line = 0;            // index of the closing fence
  std::string command;            // without the prompt
  std::vector<std::string> show;  // section keys of show=, empty: all but stats
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The backticks opening or closing a fence at the start of a line (0: none).
size_t fence_length(const std::string& line) {
  size_t n = line.find_first_not_of('`');
  n = n == std::string::npos ? line.size() : n;
  return n >= 3 ? n : 0;
}

// Finds the `$ kemu` blocks of a Markdown file. A fence closes at a line of
// at least as many backticks and nothing else, so a ```` fence can show ```.
std::vector<Block> find_blocks(const fs::path& file, const std::vector<std::string>& lines) {
  std::vector<Block> blocks;
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t open = fence_length(lines[i]);
    if (!open) continue;
    size_t close = i + 1;
    while (close < lines.size() && !(fence_length(lines[close]) >= open &&
                                     lines[close].find_first_not_of("` ") == std::string::npos))
      ++close;
    if (close == lines.size())
      throw std::runtime_error(file.string() + ":" + std::to_string(i + 1) +
                               ": unclosed code fence");
    const std::string& first = i + 1 < close ? lines[i + 1] : std::string();
    if (first.rfind(std::string(kPrompt) + "kemu ", 0) == 0) {
      Block b;
      b.command_line = i + 1;
      b.end_line = close;
      b.command = first.substr(kPrompt.size());
      for (const std::string& word : split(lines[i].substr(open), ' ')) {
        if (word.rfind("show=", 0) == 0) b.show = split(word.substr(5), ',');
      }
      for (const std::string& item : b.show)
        if (item.substr(0, item.find('/')) == "stats")
          throw std::runtime_error(
              file.string() + ":" + std::to_string(i + 1) +
              ": show=stats: the stats line holds wall-clock time and cannot be kept in sync");
      blocks.push_back(std::move(b));
    }
    i = close;
  }
  return blocks;
}

// A scratch directory standing in for the repository root (see the top).
class ScratchRoot {
 public:
  ScratchRoot(const fs::path& source, const fs::path& build) {
    std::string tmpl = (fs::temp_directory_path() / "kemu-tutorial-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    for (const fs::directory_entry& e : fs::directory_iterator(source)) {
      std::string name = e.path().filename().string();
      if (name == "build") continue;
      fs::create_directory_symlink(fs::absolute(e.path()), root_ / name);
    }
    fs::create_directory_symlink(fs::absolute(build), root_ / "build");
  }
  ~ScratchRoot() {
    std::error_code ec;
    fs::remove_all(root_, ec);  // removes the links, never what they point to
  }
  const fs::path& path() const { return root_; }

 private:
  fs::path root_;
};

struct RunOutput {
  int exit_code = -1;
  std::string out, err;
};

// Runs the shown command (its `kemu` replaced by the built binary) in `cwd`.
RunOutput run_kemu(const Options& opt, const fs::path& cwd, const std::string& command) {
  if (command.find_first_of("'\"|&;<>$`\\*?") != std::string::npos)
    throw std::runtime_error("write the command without shell syntax: " + command);
  std::vector<std::string> words = split(command, ' ');
  words[0] = fs::absolute(opt.kemu).string();
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  fs::path out_path = cwd / ".stdout", err_path = cwd / ".stderr";
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0 || chdir(cwd.c_str()) != 0) _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunOutput r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

// kemu's output as lines (a final newline ends the last line, it does not start another).
std::vector<std::string> output_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// What show= asks for: a section key, and optionally the numbers (from 1) of
// the parts of that section to keep (`explain/3`: the third step).
struct Selection {
  std::string key;
  std::set<int> parts;  // empty: the whole section
};

std::vector<Selection> parse_show(const std::vector<std::string>& show) {
  std::vector<Selection> out;
  for (const std::string& item : show) {
    std::string key = item.substr(0, item.find('/'));
    auto it =
        std::find_if(out.begin(), out.end(), [&](const Selection& s) { return s.key == key; });
    if (it == out.end()) it = out.insert(out.end(), Selection{key, {}});
    if (item.find('/') != std::string::npos) {
      int n = std::atoi(item.substr(item.find('/') + 1).c_str());
      if (n < 1) throw std::runtime_error("show=" + item + ": a part is numbered from 1");
      it->parts.insert(n);
    }
  }
  return out;
}

// The shown lines of kemu's output under the rule at the top. A part of a
// section begins at a line indented by exactly two spaces.
std::vector<std::string> shown_output(const std::string& out,
                                      const std::vector<std::string>& show) {
  std::vector<Selection> selections = parse_show(show);
  std::vector<std::string> shown;
  std::set<std::string> seen;
  const Selection* section = nullptr;          // the kept section the line is in
  bool keep = false, elided = false;           // sections
  bool keep_part = true, part_elided = false;  // parts of a kept section
  int part = 0;
  std::map<std::string, int> parts_seen;
  for (const std::string& line : output_lines(out)) {
    if (!line.empty() && line[0] != ' ') {
      std::string key = line.substr(0, line.find(' '));
      seen.insert(key);
      auto it = std::find_if(selections.begin(), selections.end(),
                             [&](const Selection& s) { return s.key == key; });
      section = it == selections.end() ? nullptr : &*it;
      keep = selections.empty() ? key != "stats" : section != nullptr;
      if (!keep && !elided) shown.emplace_back(kElided);
      elided = !keep;
      keep_part = true;
      part_elided = false;
      part = 0;
      if (keep) shown.push_back(line);
      continue;
    }
    if (!keep) continue;
    if (section && !section->parts.empty()) {
      if (line.size() > 2 && line.compare(0, 2, "  ") == 0 && line[2] != ' ') {
        parts_seen[section->key] = ++part;
        keep_part = section->parts.count(part) > 0;
        if (!keep_part && !part_elided) shown.push_back("  " + std::string(kElided));
        part_elided = !keep_part;
      }
      if (!keep_part) continue;
    }
    shown.push_back(line);
  }
  for (const Selection& s : selections) {
    if (!seen.count(s.key))
      throw std::runtime_error("show=" + s.key + ": kemu printed no such section");
    if (!s.parts.empty() && *s.parts.rbegin() > parts_seen[s.key])
      throw std::runtime_error("show=" + s.key + "/" + std::to_string(*s.parts.rbegin()) +
                               ": the section has " + std::to_string(parts_seen[s.key]) + " parts");
  }
  return shown;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

std::string unified_diff(const std::string& shown, const std::string& printed) {
  char tmpl[] = "/tmp/kemu-tutorial-diff-XXXXXX";
  if (!mkdtemp(tmpl)) return "(no diff: mkdtemp failed)\n";
  fs::path dir = tmpl;
  std::ofstream(dir / "shown") << shown;
  std::ofstream(dir / "printed") << printed;
  fs::path diff = dir / "diff";
  std::string cmd = "diff -u --label shown --label 'kemu now' '" + (dir / "shown").string() +
                    "' '" + (dir / "printed").string() + "' > '" + diff.string() + "'";
  int rc = std::system(cmd.c_str());
  (void)rc;
  std::string text = slurp(diff);
  fs::remove_all(dir);
  return text;
}

// Relative links of a lesson ([text](path)) must name files that exist.
std::vector<std::string> broken_links(const fs::path& file, const std::vector<std::string>& lines) {
  std::vector<std::string> broken;
  size_t fence = 0;  // the backticks of the open fence
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t n = fence_length(lines[i]);
    if (!fence && n) {
      fence = n;
      continue;
    }
    if (fence) {
      if (n >= fence && lines[i].find_first_not_of("` ") == std::string::npos) fence = 0;
      continue;
    }
    for (size_t at = lines[i].find("]("); at != std::string::npos;
         at = lines[i].find("](", at + 2)) {
      size_t end = lines[i].find(')', at);
      if (end == std::string::npos) break;
      std::string target = lines[i].substr(at + 2, end - at - 2);
      target = target.substr(0, target.find('#'));
      if (target.empty() || target.find("://") != std::string::npos) continue;
      if (!fs::exists(file.parent_path() / target))
        broken.push_back(file.string() + ":" + std::to_string(i + 1) +
                         ": link to a missing file: " + target);
    }
  }
  return broken;
}

struct Tally {
  int blocks = 0, differing = 0, broken_links = 0;
};

// Checks or updates one lesson.
void process(const Options& opt, const fs::path& root, const fs::path& file, Tally& tally) {
  std::vector<std::string> lines = read_lines(file);
  std::vector<Block> blocks = find_blocks(file, lines);
  tally.blocks += static_cast<int>(blocks.size());
  for (const std::string& b : broken_links(file, lines)) {
    std::cerr << b << "\n";
    ++tally.broken_links;
  }
  // Replace from the last block back so earlier line numbers stay valid.
  std::vector<std::pair<Block, std::vector<std::string>>> changes;
  for (const Block& b : blocks) {
    std::string where = file.string() + ":" + std::to_string(b.command_line + 1);
    RunOutput r = run_kemu(opt, root, b.command);
    if ((r.exit_code != 0 && r.exit_code != 1) || !r.err.empty())
      throw std::runtime_error(where + ": `" + b.command + "` failed (exit " +
                               std::to_string(r.exit_code) + "):\n" + r.err + r.out);
    std::vector<std::string> printed;
    try {
      printed = shown_output(r.out, b.show);
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ": " + e.what());
    }
    std::vector<std::string> shown(lines.begin() + static_cast<long>(b.command_line) + 1,
                                   lines.begin() + static_cast<long>(b.end_line));
    if (printed == shown) continue;
    ++tally.differing;
    if (opt.update) {
      std::cout << "updated " << where << "  $ " << b.command << "\n";
      changes.emplace_back(b, printed);
    } else {
      std::cerr << where << ": the output shown for\n  $ " << b.command
                << "\ndiffers from what kemu prints now:\n"
                << unified_diff(joined(shown), joined(printed)) << "\n";
    }
  }
  if (opt.update && !changes.empty()) {
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
      const Block& b = it->first;
      lines.erase(lines.begin() + static_cast<long>(b.command_line) + 1,
                  lines.begin() + static_cast<long>(b.end_line));
      lines.insert(lines.begin() + static_cast<long>(b.command_line) + 1, it->second.begin(),
                   it->second.end());
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << joined(lines);
  }
}

Options parse(int argc, char** argv) {
  Options opt;
  if (argc < 2)
    throw std::runtime_error(
        "usage: tutorial_sync check|update --kemu P --source D --build D FILE...");
  std::string mode = argv[1];
  if (mode != "check" && mode != "update")
    throw std::runtime_error("the mode is check or update, not " + mode);
  opt.update = mode == "update";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> fs::path {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--kemu")
      opt.kemu = value();
    else if (a == "--source")
      opt.source = value();
    else if (a == "--build")
      opt.build = value();
    else
      opt.inputs.emplace_back(a);
  }
  if (opt.kemu.empty() || opt.source.empty() || opt.build.empty() || opt.inputs.empty())
    throw std::runtime_error("--kemu, --source, --build and at least one lesson are needed");
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options opt = parse(argc, argv);
    std::vector<fs::path> files;
    for (const fs::path& in : opt.inputs) {
      if (fs::is_directory(in)) {
        for (const fs::directory_entry& e : fs::directory_iterator(in))
          if (e.path().extension() == ".md") files.push_back(e.path());
      } else {
        files.push_back(in);
      }
    }
    std::sort(files.begin(), files.end());
    ScratchRoot root(opt.source, opt.build);
    Tally t;
    for (const fs::path& f : files) process(opt, root.path(), f, t);
    if (t.broken_links) std::cerr << t.broken_links << " link(s) to missing files\n";
    if (opt.update) {
      std::cout << t.blocks << " shown runs in " << files.size() << " files, " << t.differing
                << " rewritten\n";
      return t.broken_links ? 1 : 0;
    }
    if (t.differing)
      std::cerr << t.differing << " of " << t.blocks
                << " shown runs differ from what kemu prints: run "
                << "scripts/update-tutorial.sh, read the change, commit it.\n";
    if (t.differing || t.broken_links) return 1;
    std::cout << t.blocks << " shown runs in " << files.size() << " files match kemu\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tutorial_sync: " << e.what() << "\n";
    return 2;
  }
}
