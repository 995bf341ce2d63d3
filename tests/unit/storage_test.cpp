#include "checkpoint/checkpoint.h"
#include "checkpoint/directory.h"
#include "storage/fs.h"
#include "storage/h5.h"
#include "checkpoint/ownership.h"
#include "checkpoint/staged_backend.h"
#include "comm/loopback_communicator.h"

#include "common/error.h"

#include <gtest/gtest.h>

#include <numeric>

namespace {

using namespace trainer::storage;
using namespace trainer::checkpoint;

std::string storage_temp(const std::string& name) { return ::testing::TempDir() + "/storage_test_" + name; }

TEST(Ownership, BalancesBytesAcrossRanksDeterministically) {
  std::vector<std::uint64_t> bytes{100, 10, 90, 20, 80, 30, 5};
  std::vector<int> owners = assign_owners(bytes, 3);
  std::vector<std::uint64_t> load(3, 0);
  for (std::size_t i = 0; i < bytes.size(); ++i) load[owners[i]] += bytes[i];
  EXPECT_EQ(owners, assign_owners(bytes, 3));
  EXPECT_LE(*std::max_element(load.begin(), load.end()) - *std::min_element(load.begin(), load.end()), 20u);
  EXPECT_EQ(assign_owners(bytes, 1), std::vector<int>(bytes.size(), 0));
  EXPECT_TRUE(assign_owners({}, 4).empty());
  EXPECT_THROW(assign_owners(bytes, 0), trainer::Error);
}

TEST(H5, AttributesOfEveryKindRoundTrip) {
  const std::string path = storage_temp("attributes.h5");
  {
    File f = File::create(path);
    f.create_group("/epoch/inner");
    f.set_attribute("/", "count", std::int64_t{42});
    f.set_attribute("/epoch", "lr", 0.125);
    f.set_attribute("/epoch/inner", "name", std::string("lenet"));
    f.set_attribute("/epoch/inner", "names", std::vector<std::string>{"a.weight", "b.bias"});
    f.set_attribute("/", "count", std::int64_t{43});  // replaced, not duplicated
    f.close();
  }
  File f = File::open_read(path);
  EXPECT_EQ(f.int_attribute("/", "count"), 43);
  EXPECT_DOUBLE_EQ(f.double_attribute("/epoch", "lr"), 0.125);
  EXPECT_EQ(f.string_attribute("/epoch/inner", "name"), "lenet");
  EXPECT_EQ(f.strings_attribute("/epoch/inner", "names"), (std::vector<std::string>{"a.weight", "b.bias"}));
  EXPECT_FALSE(f.has_attribute("/epoch", "missing"));
  EXPECT_THROW(f.int_attribute("/epoch", "lr"), trainer::StorageError);
  EXPECT_EQ(f.list("/epoch"), (std::vector<std::string>{"inner"}));
}

TEST(H5, ExternalLinksResolveRelativeToTheLinkingFile) {
  const std::string dir = storage_temp("links");
  fs::remove_tree(dir);
  fs::make_directories(dir);
  {
    File data = File::create(dir + "/data.h5");
    std::vector<float> values{1, 2, 3, 4, 5, 6};
    data.write_raw("/model/w", {2, 3}, H5T_NATIVE_FLOAT, values.data(), /*checksummed=*/true);
    data.close();
    File index = File::create(dir + "/index.h5");
    index.link_external("/model/w", "data.h5", "/model/w");
    index.close();
  }
  File index = File::open_read(dir + "/index.h5");
  EXPECT_EQ(index.external_file("/model/w"), "data.h5");
  EXPECT_EQ(index.external_file("/model"), "");
  EXPECT_EQ(index.describe("/model/w").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(index.read<float>("/model/w"), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Fs, ReplaceTextAtomicallyAndRemoveTree) {
  const std::string dir = storage_temp("fs");
  fs::remove_tree(dir);
  fs::make_directories(dir + "/a/b");
  fs::replace_text_atomically(dir + "/LATEST", "epoch-0001");
  fs::replace_text_atomically(dir + "/LATEST", "epoch-0002");
  EXPECT_EQ(fs::read_text(dir + "/LATEST"), "epoch-0002");
  EXPECT_FALSE(fs::exists(dir + "/LATEST.tmp"));
  EXPECT_EQ(fs::list_directory(dir), (std::vector<std::string>{"LATEST", "a"}));
  fs::remove_tree(dir);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_EQ(fs::parent_of("x/y/z"), "x/y");
  EXPECT_EQ(fs::parent_of("z"), ".");
}

TEST(CheckpointRoot, ListsOrdersRetainsAndCleans) {
  const std::string root = storage_temp("root");
  fs::remove_tree(root);
  for (const char* name : {"epoch-0001", "epoch-0001-step-00000005", "epoch-0002", "epoch-0003"}) {
    fs::make_directories(fs::join(root, name));
    File::create(fs::join(fs::join(root, name), "index.h5")).close();
  }
  fs::make_directories(root + "/epoch-0004.tmp");
  fs::make_directories(root + "/not-a-checkpoint");
  fs::replace_text_atomically(root + "/LATEST", "epoch-0002");  // e.g. epoch-0003 not yet committed
  EXPECT_EQ(list_checkpoints(root),
            (std::vector<std::string>{"epoch-0001", "epoch-0001-step-00000005", "epoch-0002", "epoch-0003"}));
  EXPECT_EQ(resolve_checkpoint_path(root), root + "/epoch-0002");
  EXPECT_EQ(apply_retention(*make_backend("posix", root), 1), (std::vector<std::string>{"epoch-0001", "epoch-0001-step-00000005"}));
  // LATEST is never removed, even when newer names exist.
  EXPECT_EQ(list_checkpoints(root), (std::vector<std::string>{"epoch-0002", "epoch-0003"}));
  EXPECT_EQ(remove_stale_temporaries(root), 1);
  EXPECT_FALSE(fs::exists(root + "/epoch-0004.tmp"));
  EXPECT_THROW(resolve_checkpoint_path(root + "/not-a-checkpoint"), trainer::StorageError);
}

TEST(CheckpointRoot, OrdersByTheNumbersInTheNamesAndTouchesOnlyItsOwn) {
  const std::string root = storage_temp("numbers");
  fs::remove_tree(root);
  for (const char* name : {"epoch-9998", "epoch-9999", "epoch-10000", "epoch-10000-step-00000007", "epoch-10001",
                           "best-model", "Z-pretrained"}) {
    fs::make_directories(fs::join(root, name));
    File::create(fs::join(fs::join(root, name), "index.h5")).close();
  }
  fs::make_directories(root + "/experiment-notes.tmp");
  fs::make_directories(root + "/epoch-10002.tmp");
  fs::replace_text_atomically(root + "/LATEST", "epoch-10001");
  EXPECT_EQ(list_checkpoints(root),
            (std::vector<std::string>{"epoch-9998", "epoch-9999", "epoch-10000", "epoch-10000-step-00000007", "epoch-10001"}));
  EXPECT_EQ(apply_retention(*make_backend("posix", root), 2),
            (std::vector<std::string>{"epoch-9998", "epoch-9999", "epoch-10000"}));
  EXPECT_EQ(remove_stale_temporaries(root), 1);
  EXPECT_EQ(fs::list_directory(root), (std::vector<std::string>{"LATEST", "Z-pretrained", "best-model", "epoch-10000-step-00000007",
                                                                "epoch-10001", "experiment-notes.tmp"}));
  EXPECT_FALSE(parse_checkpoint_name("epoch-1x").has_value());
  EXPECT_FALSE(parse_checkpoint_name("../epoch-0001").has_value());
}

TEST(CheckpointRoot, OneJobAtATimeHoldsTheLock) {
  const std::string root = storage_temp("lock");
  fs::remove_tree(root);
  auto first = DirectoryLock::acquire(root);
  try {
    DirectoryLock::acquire(root);
    FAIL() << "a second lock was granted";
  } catch (const trainer::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("is in use by another training job (pid "), std::string::npos) << e.what();
  }
  first.reset();  // the holder ends: the directory is free again
  EXPECT_NE(DirectoryLock::acquire(root), nullptr);
}

TEST(CheckpointRoot, TheLockSurvivesTheDeletionOfItsNoteAndNoticesAReplacedDirectory) {
  const std::string root = storage_temp("lock-held");
  fs::remove_tree(root);
  auto first = DirectoryLock::acquire(root);
  fs::remove_tree(fs::join(root, ".trainer.lock"));  // a user's rm of the note
  EXPECT_THROW(DirectoryLock::acquire(root), trainer::CheckpointError);
  first->verify();  // still the directory it locked: fine, and the note is back
  EXPECT_TRUE(fs::exists(fs::join(root, ".trainer.lock")));
  fs::remove_tree(root);  // rm -rf of the whole directory, and a new one in its place
  fs::make_directories(root);
  try {
    first->verify();
    FAIL() << "a replaced directory passed the check before a commit";
  } catch (const trainer::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("was removed or replaced while this job ran"), std::string::npos) << e.what();
  }
}

std::string config_error(const std::function<void()>& make) {
  try {
    make();
  } catch (const trainer::ConfigError& e) {
    return e.what();
  }
  return "no ConfigError";
}

TEST(CheckpointBackends, TheRegistryRefusesWhatItDoesNotKnowInOneLine) {
  const std::string root = storage_temp("backends");
  EXPECT_NE(dynamic_cast<PosixBackend*>(make_backend("posix", root).get()), nullptr);
  EXPECT_NE(config_error([&] { make_backend("s3", root); }).find("unknown backend 's3' (posix: "), std::string::npos);
  EXPECT_NE(config_error([&] { check_backend_spec("staged"); }).find("staged needs an argument"), std::string::npos);
  EXPECT_NE(config_error([&] { check_backend_spec("posix:/x"); }).find("posix takes no argument"), std::string::npos);
  EXPECT_NE(config_error([&] { make_backend("staged:" + root + "/stage", root); }).find("lies inside the checkpoint root"),
            std::string::npos);
}

// A save through the staged backend: the shard and the index are written under the staging
// directory, copied into the root, committed there; nothing stays staged. A killed save's leftover
// of this root is cleared when a job starts; a user's files beside it are not touched.
TEST(CheckpointBackends, AStagedSaveCommitsInTheRootAndLeavesNothingStaged) {
  const std::string root = storage_temp("staged-root"), stage_dir = storage_temp("stage");
  fs::remove_tree(root);
  fs::remove_tree(stage_dir);
  fs::make_directories(stage_dir);
  fs::replace_text_atomically(fs::join(stage_dir, "notes.txt"), "a user's file");
  std::string stage;
  {
    StagedBackend first(root, stage_dir);
    stage = first.stage();
  }
  fs::make_directories(fs::join(stage, "epoch-0007.tmp"));  // what a killed save leaves
  fs::replace_text_atomically(fs::join(stage, "epoch-0007.tmp/shard-00000-of-00001.h5"), "partial");
  auto backend = make_backend("staged:" + stage_dir, root);
  EXPECT_EQ(fs::list_directory(stage), std::vector<std::string>{});

  CheckpointContents contents;
  contents.run.model = "test";
  contents.run.num_classes = 10;
  contents.model = {{"w", torch::arange(12, torch::kFloat32).reshape({3, 4})}};
  contents.optimizer_state = {{"w", "momentum_buffer", torch::full({3, 4}, 0.5)}};
  contents.rng_state = torch::arange(16, torch::kUInt8);
  trainer::comm::LoopbackCommunicator loopback;
  CheckpointSave save(backend, "epoch-0001", contents, loopback, nullptr);
  EXPECT_TRUE(fs::exists(root + "/epoch-0001.tmp"));
  save.write_shard();
  EXPECT_TRUE(fs::exists(root + "/epoch-0001.tmp/shard-00000-of-00001.h5"));  // copied before the commit
  const SaveReport report = save.commit(loopback);
  EXPECT_EQ(report.path, root + "/epoch-0001");
  EXPECT_EQ(backend->latest(), "epoch-0001");
  EXPECT_EQ(fs::list_directory(stage), std::vector<std::string>{});
  EXPECT_EQ(fs::list_directory(stage_dir).size(), 2u);  // notes.txt and this root's trainer-<hash>
  CheckpointReader reader(report.path);
  EXPECT_TRUE(torch::equal(read_all(reader.model()).at(0).second, contents.model.at(0).second));
  EXPECT_EQ(report.bytes, reader.total_bytes());
}

TEST(CheckpointReader, RejectsWhatIsNotACompleteCheckpoint) {
  const std::string dir = storage_temp("reader");
  fs::remove_tree(dir);
  fs::make_directories(dir);
  EXPECT_THROW(CheckpointReader{dir}, trainer::StorageError);  // no index
  {
    File index = File::create(dir + "/index.h5");
    index.set_attribute("/", "format", std::string(kFormatName));
    index.set_attribute("/", "format_version", std::int64_t{1});
    index.close();
  }
  try {
    CheckpointReader reader(dir);
    FAIL() << "an index without 'complete' was accepted";
  } catch (const trainer::StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("incomplete"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

// Found by the fuzzer: an extent whose element count overflows 64 bits. Chunked and never
// written, such a dataset costs nothing on disk.
TEST(H5, ImpossibleExtentsAreErrorsNotOverflows) {
  const std::string path = ::testing::TempDir() + "/storage_test_huge.h5";
  {
    File f = File::create(path);
    const hsize_t dims[3] = {hsize_t{1} << 31, hsize_t{1} << 31, hsize_t{1} << 31};
    const hsize_t chunk[3] = {1, 1, 16};
    hid_t space = H5Screate_simple(3, dims, nullptr);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(properties, 3, chunk);
    hid_t set = H5Dcreate2(f.id(), "/huge", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, properties, H5P_DEFAULT);
    ASSERT_GE(set, 0);
    H5Dclose(set);
    H5Pclose(properties);
    H5Sclose(space);
    f.close();
  }
  File f = File::open_read(path);
  EXPECT_THROW(f.describe("/huge"), trainer::StorageError);
  EXPECT_THROW(f.read<float>("/huge"), trainer::StorageError);
}

}  // namespace
