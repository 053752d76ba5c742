// The publish step of apps/output_file: without --force an output that appears while a run
// is in progress (another run with the same -o, say) is never replaced.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "output_file.hpp"
#include "ungulate/io/h5file.hpp"

namespace {

std::string scratch_directory() {
  char pattern[] = "/tmp/ungulate_output_file_XXXXXX";
  const char* dir = mkdtemp(pattern);
  return dir ? dir : "/tmp";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool exists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;
}

using ungulate::app::PartialOutput;

TEST(OutputFile, PublishNeverReplacesAFileThatAppearedMeanwhile) {
  const std::string dir = scratch_directory(), out = dir + "/out.h5";
  std::string temporary;
  {
    PartialOutput partial(out, /*replace=*/false, MPI_COMM_SELF);
    temporary = partial.temporary();
    EXPECT_LT(temporary.size(), dir.size() + 100);
    write_text(temporary, "our result");
    write_text(out, "someone else's result");  // e.g. a concurrent run with the same -o
    try {
      partial.publish(false);
      ADD_FAILURE() << "publish replaced a file that appeared meanwhile";
    } catch (const ungulate::io::Error& e) {
      EXPECT_NE(std::string(e.what()).find(out), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(read_text(out), "someone else's result");
  EXPECT_FALSE(exists(temporary)) << "the temporary file is removed on failure";
}

TEST(OutputFile, LaterCheckpointsReplaceTheirOwnEarlierOne) {
  const std::string dir = scratch_directory(), out = dir + "/ck.h5";
  PartialOutput partial(out, /*replace=*/false, MPI_COMM_SELF);
  write_text(partial.temporary(), "first");
  partial.publish(false);
  EXPECT_EQ(read_text(out), "first");
  EXPECT_FALSE(exists(partial.temporary()));
  write_text(partial.temporary(), "second");
  partial.publish(false);
  EXPECT_EQ(read_text(out), "second");
}

TEST(OutputFile, ForceReplaces) {
  const std::string dir = scratch_directory(), out = dir + "/forced.h5";
  write_text(out, "old");
  PartialOutput partial(out, /*replace=*/true, MPI_COMM_SELF);
  write_text(partial.temporary(), "new");
  partial.publish(false);
  EXPECT_EQ(read_text(out), "new");
}

TEST(OutputFile, UnwritableDirectoryIsReportedAtCreationNamingTheOutput) {
  try {
    PartialOutput partial("/nonexistent_dir_for_ungulate/out.h5", false, MPI_COMM_SELF);
    ADD_FAILURE() << "created a temporary file in a missing directory";
  } catch (const ungulate::io::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent_dir_for_ungulate/out.h5'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  MPI_Finalize();
  return rc;
}
