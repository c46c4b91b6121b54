// FfsMount's refusals that need no root: an existing mount point that is not empty is left
// alone (the mount would hide its files), before anything is mounted.
#include "ffs/FfsMount.h"

#include <cerrno>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using namespace iiousb;

TEST(FfsMount, RefusesNonEmptyDirectory)
{
    const fs::path dir = fs::path(testing::TempDir()) / "iiousb-ffsmount-test";
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream((dir / "keep").string()) << "x";

    auto m = ffs::FfsMount::mount("iiousb-unit-test", dir.string());
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, -ENOTEMPTY);
    EXPECT_EQ(m.error().message, "Refusing to mount FunctionFS on " + dir.string() +
                                         ": the directory is not empty (expected a missing or "
                                         "empty directory)");
    EXPECT_TRUE(fs::exists(dir / "keep"));
    fs::remove_all(dir);
}

TEST(FfsMount, CreatedDirectoryRemovedOnFailure)
{
    // Not root or no such instance: mount(2) fails, and the directories it made go again.
    const fs::path dir = fs::path(testing::TempDir()) / "iiousb-ffsmount-new";
    fs::remove_all(dir);
    auto m = ffs::FfsMount::mount("iiousb-unit-test-no-such-instance", (dir / "sub").string());
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().code, -ENOTEMPTY);
    EXPECT_FALSE(fs::exists(dir));
}
