#include "output_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "cli.hpp"
#include "ungulate/io/h5file.hpp"

namespace ungulate::app {
namespace {

// --- signal-time cleanup ------------------------------------------------------------------
// The handler may only use async-signal-safe calls: the paths live in static arrays, slots
// are claimed with the signals blocked.
constexpr int kSlots = 8;
char g_partial_paths[kSlots][PATH_MAX];
volatile std::sig_atomic_t g_slot_in_use[kSlots];
// While a result is being moved into place (and for good once the final result is there) a
// signal is deferred: the files on disk and the exit status must tell the same story.
volatile std::sig_atomic_t g_publishing = 0;
volatile std::sig_atomic_t g_deferred_signal = 0;

// The signals whose default action ends the process and that a user, a shell or a batch
// system sends to stop a run: Ctrl-C and Ctrl-\, kill, a closed terminal or ssh session,
// a broken output pipe, and what Slurm and PBS send at a time or CPU limit.
constexpr int kStopSignals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGPIPE,
                                SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU};

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kStopSignals) sigaddset(&set, sig);
  return set;
}

extern "C" void remove_partials_and_die(int sig) {
  if (g_publishing) {
    g_deferred_signal = sig;
    return;
  }
  for (int i = 0; i < kSlots; ++i)
    if (g_slot_in_use[i]) unlink(g_partial_paths[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);  // delivered when the handler returns: the process dies of `sig`
}

class SignalsBlocked {
 public:
  SignalsBlocked() {
    const sigset_t set = stop_signal_set();
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

int claim_slot(const std::string& path) {
  const SignalsBlocked blocked;
  for (int i = 0; i < kSlots; ++i)
    if (!g_slot_in_use[i]) {
      std::snprintf(g_partial_paths[i], PATH_MAX, "%s", path.c_str());
      g_slot_in_use[i] = 1;
      return i;
    }
  return -1;  // more live outputs than slots: only the destructor cleans up
}

void release_slot(int slot) {
  if (slot < 0) return;
  const SignalsBlocked blocked;
  g_slot_in_use[slot] = 0;
}

// --- paths ----------------------------------------------------------------------------------
std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string host_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "localhost";
  std::string out = host;
  for (char& c : out)
    if (c == '/') c = '_';
  return out;
}

const char* const kPartialPrefix = ".ungulate-";
const char* const kPartialSuffix = ".partial";

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

// ".ungulate-HOST-PID-N.partial" -> host, pid; false for any other name.
bool parse_partial_name(const std::string& name, std::string& host, long& pid) {
  const std::string prefix = kPartialPrefix, suffix = kPartialSuffix;
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string middle =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  const auto last = middle.find_last_of('-');
  if (last == std::string::npos || last == 0 || !all_digits(middle.substr(last + 1))) return false;
  const auto before = middle.find_last_of('-', last - 1);
  if (before == std::string::npos || before == 0) return false;
  const std::string pid_text = middle.substr(before + 1, last - before - 1);
  if (!all_digits(pid_text)) return false;
  host = middle.substr(0, before);
  pid = std::stol(pid_text);
  return pid > 0;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

[[noreturn]] void refuse(const std::string& message) {
  throw cli::UsageError(message);
}

std::string describe(const NamedPath& p) {
  return "'" + p.path + "' (" + p.option + ")";
}

// What a path names: an existing file by (device, inode), or a file still to be created by
// (directory device and inode, base name).
struct Target {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  std::string base;
  bool operator==(const Target& o) const {
    return exists == o.exists && device == o.device && inode == o.inode && base == o.base;
  }
};

}  // namespace

void check_path_length(const NamedPath& p) {
  if (p.path.empty()) refuse(p.option + " needs a file name");
  if (p.path.size() >= PATH_MAX)
    refuse(p.option + ": path of " + std::to_string(p.path.size()) +
           " characters is too long (the limit is " + std::to_string(PATH_MAX - 1) + ")");
  std::size_t start = 0;
  while (start <= p.path.size()) {
    const auto end = std::min(p.path.find('/', start), p.path.size());
    if (end - start > NAME_MAX)
      refuse(p.option + ": a file name of " + std::to_string(end - start) + " characters in '" +
             p.path.substr(0, 40) + "...' is too long (the limit is " + std::to_string(NAME_MAX) +
             ")");
    start = end + 1;
  }
}

void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs,
                   bool force) {
  std::vector<std::pair<NamedPath, struct stat>> existing_inputs;
  for (const NamedPath& in : inputs) {
    check_path_length(in);
    struct stat st {};
    if (stat(in.path.c_str(), &st) == 0) existing_inputs.push_back({in, st});
    // A missing input is reported, naming it, when it is opened.
  }
  std::vector<std::pair<NamedPath, Target>> targets;
  for (const NamedPath& out : outputs) {
    check_path_length(out);
    Target t;
    t.base = base_name_of(out.path);
    if (t.base.empty() || t.base == "." || t.base == "..")
      refuse("output " + describe(out) + " does not name a file");
    struct stat st {};
    if (lstat(out.path.c_str(), &st) == 0) {
      for (const auto& [in, in_st] : existing_inputs)
        if (in_st.st_dev == st.st_dev && in_st.st_ino == st.st_ino)
          refuse("output " + describe(out) + " is the input " + describe(in) +
                 ": ungulate never replaces an input, even with --force");
      if (S_ISLNK(st.st_mode))
        refuse("output " + describe(out) +
               " is a symbolic link: ungulate neither replaces links nor writes through them");
      if (!S_ISREG(st.st_mode))
        refuse("output " + describe(out) + " exists and is not a regular file: not replacing it");
      if (!force) refuse("output " + describe(out) + " exists (use --force to replace it)");
      t.exists = true;
      t.device = st.st_dev;
      t.inode = st.st_ino;
    } else if (errno == ENOENT) {
      const std::string dir = directory_of(out.path);
      struct stat dir_st {};
      if (stat(dir.c_str(), &dir_st) != 0 || !S_ISDIR(dir_st.st_mode))
        refuse("directory '" + dir + "' of output " + describe(out) + " does not exist");
      t.device = dir_st.st_dev;
      t.inode = dir_st.st_ino;
    } else {
      refuse("cannot check output " + describe(out) + ": " + errno_text(errno));
    }
    for (const auto& [other, other_target] : targets)
      if (other_target == t)
        refuse("outputs " + describe(other) + " and " + describe(out) + " are the same file");
    targets.push_back({out, t});
  }
}

void remove_stale_partials(const std::string& output) {
  DIR* dir = opendir(directory_of(output).c_str());
  if (!dir) return;
  const std::string host = host_name();
  std::vector<std::string> stale;
  while (const dirent* entry = readdir(dir)) {
    std::string owner_host;
    long pid = 0;
    if (!parse_partial_name(entry->d_name, owner_host, pid) || owner_host != host) continue;
    if (kill(pid_t(pid), 0) != 0 && errno == ESRCH) stale.emplace_back(entry->d_name);
  }
  closedir(dir);
  for (const std::string& name : stale) unlink((directory_of(output) + "/" + name).c_str());
}

PartialOutput::PartialOutput(std::string final_path, bool replace, MPI_Comm comm)
    : final_(std::move(final_path)), comm_(comm), replace_(replace) {
  MPI_Comm_rank(comm_, &rank_);
  static int counter = 0;
  // Short whatever the final name's length (NAME_MAX), unique per host, process and output.
  std::string name = directory_of(final_) + "/" + kPartialPrefix + host_name() + "-" +
                     std::to_string(getpid()) + "-" + std::to_string(counter++) + kPartialSuffix;
  int length = int(name.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm_);
  name.resize(std::size_t(length));
  MPI_Bcast(name.data(), length, MPI_CHAR, 0, comm_);
  temporary_ = name;
  slot_ = claim_slot(temporary_);
  int err = 0;
  if (rank_ == 0) {
    const int fd = open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
      err = errno;
    else
      close(fd);
  }
  MPI_Bcast(&err, 1, MPI_INT, 0, comm_);
  if (err != 0) {
    release_slot(slot_);
    throw io::Error("cannot create output '" + final_ + "' in directory '" + directory_of(final_) +
                    "': " + errno_text(err));
  }
}

PartialOutput::~PartialOutput() {
  if (rank_ == 0) unlink(temporary_.c_str());
  release_slot(slot_);
}

void PartialOutput::publish(bool last) {
  MPI_Barrier(comm_);  // every rank has closed the file
  g_publishing = 1;
  int err = 0;
  if (rank_ == 0) {
    if (replace_) {
      if (rename(temporary_.c_str(), final_.c_str()) != 0) err = errno;
    } else if (renameat2(AT_FDCWD, temporary_.c_str(), AT_FDCWD, final_.c_str(),
                         RENAME_NOREPLACE) != 0) {
      err = errno;
      if (err == EINVAL || err == ENOSYS) {  // file system without RENAME_NOREPLACE
        err = link(temporary_.c_str(), final_.c_str()) == 0 ? 0 : errno;
        if (err == 0) unlink(temporary_.c_str());
      }
    }
  }
  MPI_Bcast(&err, 1, MPI_INT, 0, comm_);
  // Later checkpoints replace this run's own earlier one.
  if (err == 0) replace_ = true;
  if (err != 0 || !last) {
    g_publishing = 0;
    if (g_deferred_signal) remove_partials_and_die(g_deferred_signal);
  }
  if (err == EEXIST)
    throw io::Error("output '" + final_ +
                    "' appeared while ungulate was running: not replacing it (result discarded)");
  if (err != 0)
    throw io::Error("cannot move the finished output into place as '" + final_ +
                    "': " + errno_text(err));
}

void remove_partials_on_signals() {
  struct sigaction action {};
  action.sa_handler = remove_partials_and_die;
  action.sa_mask = stop_signal_set();
  for (int sig : kStopSignals) {
    // A signal ignored when ungulate starts (nohup, a shell's background job) stays ignored.
    struct sigaction previous {};
    if (sigaction(sig, nullptr, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
    sigaction(sig, &action, nullptr);
  }
}

}  // namespace ungulate::app
