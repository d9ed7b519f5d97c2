// Shell completion: scripts for a small hand-built tree (contents, determinism, syntax and a few
// real completions), and the committed completions/ files against the real command tree.
#include "cli/completion.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#ifndef COMPLETION_TEST_NO_REAL_TREE  // only for building this file by hand, without the commands
#include "cli/context.h"
#endif

using cairn::Code;
using cairn::cli::GenerateCompletion;

namespace {

const char* const kShells[] = {"bash", "zsh", "fish"};

// A two-command tree with every kind of argument, and a description full of characters the
// scripts must escape.
struct SmallTree {
  std::vector<std::string> set_dirs, dirs, meta;
  bool json = false, quiet = false, recursive = false, force = false;
  std::string range, output, source, ec, mode;
  CLI::App app{"demo", "cairn"};

  SmallTree() {
    app.add_option("--set", set_dirs, "A member directory")->type_name("DIR");
    app.add_flag("--json", json, "Machine-readable output");
    app.add_flag("-q,--quiet", quiet, "No warnings");
    CLI::App* fetch = app.add_subcommand("fetch", "Read an object: to a file [or stdout]");
    fetch->add_flag("-r,--recursive", recursive, "Every key below the prefix");
    fetch->add_option("--range", range, "Bytes FIRST-LAST")->type_name("FIRST-LAST");
    fetch->add_option("-o,--output", output, "Where to write it")->type_name("FILE|-");
    fetch->add_option("source", source, "The object")->required()->type_name("BUCKET/KEY");
    CLI::App* pack = app.add_subcommand("pack", "Pack dirs the 'fast' way: \"quoted\" [x]");
    pack->add_flag("--force", force, "Overwrite: it's [really] fine");
    pack->add_option("--ec", ec, "Data+parity shards")->type_name("K+M");
    pack->add_option("--mode", mode, "How hard to try")->type_name("fast|slow");
    pack->add_option("--meta", meta, "Metadata (repeatable)")->type_name("KEY=VALUE");
    pack->add_option("dirs", dirs, "Directories to pack")->required()->type_name("DIR...");
  }
};

std::string Generate(const CLI::App& app, const std::string& shell) {
  auto script = GenerateCompletion(app, shell);
  REQUIRE(script.ok());
  return *script;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// How each script names a command or an option; a bare substring test would match anything.
bool MentionsCommand(const std::string& shell, const std::string& script, const std::string& name) {
  if (shell == "bash") return Contains(script, "'" + name + "')");
  if (shell == "zsh")
    return Contains(script, "'" + name + ":") && Contains(script, "(" + name + ")");
  std::string line = "-n '__fish_use_subcommand' -a " + name;
  return Contains(script, line + " ") || Contains(script, line + "\n");
}

bool MentionsOption(const std::string& shell, const std::string& script, const std::string& opt) {
  bool is_long = opt.rfind("--", 0) == 0;
  if (shell == "fish") {
    return Contains(script, (is_long ? " -l " : " -s ") + opt.substr(is_long ? 2 : 1) + " ");
  }
  return Contains(script, opt);
}

std::string ReadAll(const std::string& path, bool* found) {
  std::ifstream in(path, std::ios::binary);
  *found = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A script written to a temporary file, removed again at the end of the scope.
class TempScript {
 public:
  explicit TempScript(const std::string& text) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/cairn-completion-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    REQUIRE(fd >= 0);
    path_ = buf.data();
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
  }
  ~TempScript() {
    ::unlink(path_.c_str());
    ::unlink((path_ + ".out").c_str());
  }
  const std::string& path() const { return path_; }

  // Runs `command` (which mentions the script as $SCRIPT) and returns its exit status; *output
  // gets its stdout and stderr.
  int Run(const std::string& command, std::string* output) const {
    std::string full = "SCRIPT='" + path_ + "'; " + command + " >'" + path_ + ".out' 2>&1";
    int rc = std::system(full.c_str());
    bool found = false;
    *output = ReadAll(path_ + ".out", &found);
    return rc;
  }

 private:
  std::string path_;
};

// CI installs every shell, so a missing one fails the test instead of skipping the check.
void RequireShell(const std::string& shell) {
  std::string probe = "command -v " + shell + " >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) {
    FAIL(shell << " is not installed, so its completion script cannot be checked: "
                  "apt-get install -y "
               << shell);
  }
}

// Fails the test when the shell rejects the script's syntax.
void CheckSyntax(const std::string& shell, const std::string& script, const std::string& what) {
  RequireShell(shell);
  TempScript file(script);
  std::string command =
      shell == "fish" ? "fish --no-execute \"$SCRIPT\"" : shell + " -n \"$SCRIPT\"";
  std::string output;
  int rc = file.Run(command, &output);
  INFO(what << ": `" << command << "` says:\n" << output);
  CHECK(rc == 0);
  CHECK(output.empty());
}

// Runs the bash script's completion function on a command line (words, the last one being
// completed) and returns the candidates, one a line.
std::string BashComplete(const TempScript& file, const std::vector<std::string>& words) {
  std::string array;
  for (const auto& w : words) array += " '" + w + "'";
  std::string command =
      "bash -c 'source \"$1\"; COMP_WORDS=(\"${@:2}\"); COMP_CWORD=$(($# - 2)); "
      "_cairn; printf \"%s\\n\" \"${COMPREPLY[@]}\"' bash \"$SCRIPT\"" +
      array;
  std::string output;
  CHECK(file.Run(command, &output) == 0);
  return output;
}

// The candidates fish offers for a command line, one "word<TAB>description" a line.
std::string FishComplete(const TempScript& file, const std::string& line) {
  std::string output;
  CHECK(file.Run("fish --no-config -c 'source $argv[1]; complete -C\"" + line + "\"' \"$SCRIPT\"",
                 &output) == 0);
  return output;
}

}  // namespace

TEST_CASE("completion scripts cover a small tree", "[completion]") {
  SmallTree tree;
  for (const std::string shell : kShells) {
    SECTION(shell) {
      std::string script = Generate(tree.app, shell);
      CHECK(script == Generate(tree.app, shell));  // deterministic
      // The generated-file notice is the first line (the second for zsh, after #compdef).
      std::string notice = "# Generated by `cairn completion " + shell + "`. Do not edit";
      if (shell == "zsh")
        CHECK(script.rfind("#compdef cairn\n" + notice, 0) == 0);
      else
        CHECK(script.rfind(notice, 0) == 0);
      for (const char* cmd : {"fetch", "pack"}) {
        INFO(cmd);
        CHECK(MentionsCommand(shell, script, cmd));
      }
      for (const char* opt :
           {"--set", "--json", "-q", "--quiet", "--help", "-h", "-r", "--recursive", "--range",
            "-o", "--output", "--force", "--ec", "--mode", "--meta"}) {
        INFO(opt);
        CHECK(MentionsOption(shell, script, opt));
      }
      CheckSyntax(shell, script, "small tree");
    }
  }
}

TEST_CASE("completion scripts escape descriptions", "[completion]") {
  SmallTree tree;
  std::string zsh = Generate(tree.app, "zsh");
  CHECK(Contains(zsh, "'--force[Overwrite\\: it'\\''s \\[really\\] fine]'"));
  CHECK(Contains(zsh, "'pack:Pack dirs the '\\''fast'\\'' way: \"quoted\" [x]'"));
  std::string fish = Generate(tree.app, "fish");
  CHECK(Contains(fish, "-l force -d 'Overwrite: it\\'s [really] fine'"));
  CHECK(Contains(fish, "-a pack -d 'Pack dirs the \\'fast\\' way: \"quoted\" [x]'"));
}

TEST_CASE("bash completion completes commands, options and values", "[completion]") {
  RequireShell("bash");
  SmallTree tree;
  TempScript file(Generate(tree.app, "bash"));
  CHECK(BashComplete(file, {"cairn", ""}) == "fetch\npack\n");
  CHECK(BashComplete(file, {"cairn", "f"}) == "fetch\n");
  CHECK(BashComplete(file, {"cairn", "--q"}) == "--quiet\n");
  CHECK(BashComplete(file, {"cairn", "pack", "--m"}) == "--mode\n--meta\n");
  CHECK(BashComplete(file, {"cairn", "pack", "--mode", ""}) == "fast\nslow\n");
  CHECK(BashComplete(file, {"cairn", "pack", "--mode", "=", "s"}) == "slow\n");
  CHECK(BashComplete(file, {"cairn", "pack", "--ec", ""}) == "\n");     // free text: nothing
  CHECK(BashComplete(file, {"cairn", "fetch", "--q"}) == "--quiet\n");  // globals after the command
  // Files for -o and the positional, directories for --set: ask for a prefix that exists.
  CHECK(Contains(BashComplete(file, {"cairn", "fetch", "-o", "/et"}), "/etc\n"));
  CHECK(Contains(BashComplete(file, {"cairn", "fetch", "/et"}), "/etc\n"));
  CHECK(Contains(BashComplete(file, {"cairn", "--set", "/et"}), "/etc\n"));
  // A value-taking option's value is not counted as a positional; past the last one, nothing.
  CHECK(Contains(BashComplete(file, {"cairn", "fetch", "--range", "0-9", "/et"}), "/etc\n"));
  CHECK(BashComplete(file, {"cairn", "fetch", "b/k", "/et"}) == "\n");
}

TEST_CASE("fish completion completes commands, options and values", "[completion]") {
  RequireShell("fish");
  SmallTree tree;
  TempScript file(Generate(tree.app, "fish"));
  CHECK(FishComplete(file, "cairn f") == "fetch\tRead an object: to a file [or stdout]\n");
  CHECK(FishComplete(file, "cairn pack --mode ") ==
        "fast\tHow hard to try\nslow\tHow hard to try\n");
  CHECK(Contains(FishComplete(file, "cairn fetch /et"), "/etc/\n"));
  CHECK(Contains(FishComplete(file, "cairn --set /et"), "/etc/\tDirectory\n"));
  CHECK(Contains(FishComplete(file, "cairn pack --"), "--meta\tMetadata (repeatable)\n"));
  CHECK(Contains(FishComplete(file, "cairn fetch --"), "--quiet\tNo warnings\n"));
}

TEST_CASE("completion handles nested subcommands and rejects unknown shells", "[completion]") {
  SmallTree tree;
  bool deep = false;
  CLI::App* pack = tree.app.get_subcommand("pack");
  pack->add_subcommand("inspect", "A nested command")->add_flag("--deep", deep, "Read everything");
  for (const std::string shell : kShells) {
    std::string script = Generate(tree.app, shell);
    CHECK(Contains(script, "inspect"));
    CheckSyntax(shell, script, "nested tree");
  }
  auto bad = GenerateCompletion(tree.app, "powershell");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().message() == "unknown shell 'powershell' (expected bash, zsh or fish)");
  CHECK_FALSE(GenerateCompletion(tree.app, "").ok());
}

#ifndef COMPLETION_TEST_NO_REAL_TREE
TEST_CASE("committed completion scripts match the real command tree", "[completion]") {
  cairn::cli::Context ctx;
  cairn::Status st;
  auto app = cairn::cli::BuildApp(ctx, &st);
  const struct {
    const char* shell;
    const char* file;
  } kFiles[] = {{"bash", "cairn.bash"}, {"zsh", "_cairn"}, {"fish", "cairn.fish"}};
  for (const auto& f : kFiles) {
    SECTION(f.shell) {
      std::string script = Generate(*app, f.shell);
      std::string name = std::string("completions/") + f.file;
      bool found = false;
      std::string committed = ReadAll(std::string(CAIRN_SOURCE_DIR) + "/" + name, &found);
      std::string regenerate =
          ": regenerate with `build/cairn completion " + std::string(f.shell) + " > " + name + "`";
      if (!found) FAIL(name << " is missing" << regenerate);
      if (committed != script) FAIL(name << " is stale" << regenerate);
      for (const CLI::App* sub : app->get_subcommands({})) {
        INFO(sub->get_name());
        CHECK(MentionsCommand(f.shell, script, sub->get_name()));
      }
      CheckSyntax(f.shell, script, name);
    }
  }
}
#endif
