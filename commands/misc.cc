// cairn completion, cairn version.
#include <cstdio>

#include "cli/completion.h"
#include "commands/commands.h"

namespace cairn::cli {

void RegisterCompletion(CLI::App& app, Context& ctx, Status* result) {
  (void)ctx;
  auto shell = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("completion", "Print the shell completion script");
  sub->add_option("shell", *shell, "bash, zsh or fish")->required()->type_name("bash|zsh|fish");
  CLI::App* root = &app;
  sub->callback([shell, root, result] {
    auto script = GenerateCompletion(*root, *shell);
    if (!script.ok()) {
      *result = script.status();
      return;
    }
    std::fwrite(script->data(), 1, script->size(), stdout);
    *result = Status::Ok();
  });
}

void RegisterVersion(CLI::App& app, Context& ctx, Status* result) {
  CLI::App* sub = app.add_subcommand("version", "Print the version");
  sub->callback([&ctx, result] {
    if (ctx.json) std::printf("{\"version\":\"%s\"}\n", CAIRN_VERSION);
    else std::printf("cairn %s\n", CAIRN_VERSION);
    *result = Status::Ok();
  });
}

}  // namespace cairn::cli
