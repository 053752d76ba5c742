#pragma once
// Subcommands of the ungulate program; each returns the process exit code.
namespace ungulate::app {
int demo_command(int argc, char** argv, int first);
}  // namespace ungulate::app
