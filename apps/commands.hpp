#pragma once
// Subcommands of the ungulate program; each returns the process exit code.
#include <string>

namespace ungulate::app {
int demo_command(int argc, char** argv, int first);
#ifdef UNGULATE_HAVE_HDF5
int generate_command(int argc, char** argv, int first);
int run_command(int argc, char** argv, int first);
int grad_command(int argc, char** argv, int first);
int inspect_command(int argc, char** argv, int first);
int compare_command(int argc, char** argv, int first);
#endif
}  // namespace ungulate::app
