// libFuzzer harness for ungulate's HDF5 readers: the input is written to a file, which is
// then read as a model (io::read_model: any cell), as inputs and states (the datasets `ungulate
// run` reads), and walked by `ungulate inspect`.  io::Error and cli::UsageError are the
// expected answers to a bad file; any other exception, a crash, a hang or a sanitizer report
// is a bug.  HDF5 itself is not instrumented, so the fuzzer steers by ungulate's branches.
#include <mpi.h>
#include <sanitizer/lsan_interface.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "ungulate/io/h5file.hpp"
#include "ungulate/io/model.hpp"

namespace {

namespace io = ungulate::io;

std::string g_path;

// Datasets are read whole only when small: the run command bounds sizes by memory before
// reading, which a fuzzer should not exercise with gigabyte allocations.
constexpr std::uint64_t kMaxValuesRead = 1 << 16;

void read_dataset(const io::H5File& f, const std::string& name) {
  if (!f.exists(name)) return;
  const io::DatasetInfo info = f.describe_float(name);
  std::uint64_t n = 1;
  for (auto d : info.shape) {
    if (d > kMaxValuesRead) return;
    n *= d;
  }
  if (n > kMaxValuesRead) return;
  std::vector<double> values(n);
  f.read(name, std::vector<std::uint64_t>(info.shape.size(), 0), info.shape, values.data());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // H5File opens files with the MPI-IO driver; single process, MPI_COMM_SELF.  OpenMPI keeps
  // what it allocates here until exit: not a leak of the code under test.
  __lsan_disable();
  MPI_Init(nullptr, nullptr);
  __lsan_enable();
  const char* dir = std::getenv("TMPDIR");
  g_path = std::string(dir && *dir ? dir : "/tmp") + "/ungulate-fuzz-" + std::to_string(getpid()) +
           ".h5";
  std::atexit([] { std::remove(g_path.c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (std::FILE* out = std::fopen(g_path.c_str(), "wb")) {
    if (size > 0) std::fwrite(data, 1, size, out);
    std::fclose(out);
  } else {
    std::abort();  // a harness problem, not a finding: stop at once
  }
  try {
    const io::H5File f = io::H5File::open(g_path, MPI_COMM_SELF);
    try {
      (void)io::read_model(f);
    } catch (const io::Error&) {
    }
    for (const char* name : {"/inputs", "/initial_state", "/states"}) {
      try {
        read_dataset(f, name);
      } catch (const io::Error&) {
      }
    }
  } catch (const io::Error&) {
    return 0;  // not an HDF5 file: inspect would only say so again
  }
  std::string program = "ungulate", command = "inspect", file = g_path;
  char* argv[] = {program.data(), command.data(), file.data(), nullptr};
  try {
    ungulate::app::inspect_command(3, argv, 2);
  } catch (const io::Error&) {
  } catch (const ungulate::cli::UsageError&) {
  }
  return 0;
}
