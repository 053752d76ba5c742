#pragma once
// File safety for the commands that write: outputs never replace an input, never replace
// anything without --force, never replace a non-regular file, appear atomically (without
// --force: never over a file that appeared meanwhile), and leave no temporary file behind on
// failure or a stop signal (SIGINT, SIGTERM, SIGHUP, ...).  See docs/safety.md.
#include <mpi.h>

#include <string>
#include <vector>

namespace ungulate::app {

/// A path given on the command line and the option that named it (for messages).
struct NamedPath {
  std::string option;  ///< e.g. "--checkpoint"
  std::string path;
};

/// Throws cli::UsageError if `path` cannot name a file: empty, longer than PATH_MAX, or a
/// component longer than NAME_MAX.  Checked before any work so that long names fail early.
void check_path_length(const NamedPath& p);

/// Validates every output against the inputs and each other (by device and inode, so that
/// "./a.h5", "$PWD/a.h5" and hard links are recognised): an output may not be an input, even
/// with --force; two outputs may not be the same file; an existing output (found with lstat,
/// so unreadable files and dangling symlinks count) needs --force and must be a regular file,
/// not a symlink.  The output's directory must exist.  Throws cli::UsageError.
void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs,
                   bool force);

/// Removes temporary outputs (".ungulate-HOST-PID-N.partial") that processes of this host
/// that no longer exist (killed with SIGKILL, say) left in the directory of `output`.
void remove_stale_partials(const std::string& output);

/// A file being written: created (empty) under a short temporary name in the directory of the
/// final path at construction, so that an unwritable directory is reported before any work,
/// removed on destruction unless published, and removed by the stop-signal handler.
/// Collective over `comm`: rank 0 touches the file system, all ranks get the same name.
class PartialOutput {
 public:
  PartialOutput(std::string final_path, bool replace, MPI_Comm comm);
  PartialOutput(const PartialOutput&) = delete;
  PartialOutput& operator=(const PartialOutput&) = delete;
  ~PartialOutput();

  const std::string& temporary() const { return temporary_; }
  const std::string& final_path() const { return final_; }

  /// Moves the finished temporary file to the final path (collective).  Without `replace`
  /// the move fails, with io::Error naming the final path, if a file appeared there since
  /// the start; a later publish() (the next checkpoint) replaces this object's own earlier
  /// result.  `last` keeps the stop signals deferred afterwards, so that a run whose result is
  /// in place finishes with its own exit status instead of being reported as killed.
  void publish(bool last);

 private:
  std::string final_, temporary_;
  MPI_Comm comm_;
  int rank_ = 0, slot_ = -1;
  bool replace_ = false;
};

/// Installs the handler of the stop signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
/// SIGALRM, SIGUSR1/2, SIGXCPU; those ignored at start stay ignored) that removes the
/// temporary files of every live PartialOutput and then dies of the signal (so the exit
/// status still says "killed").
void remove_partials_on_signals();

}  // namespace ungulate::app
