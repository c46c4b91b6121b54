#include "ffs/FfsMount.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include "log/Log.h"

namespace iiousb::ffs {

IIOUSB_LOG_CATEGORY(Ffs, "ffs")

namespace {

std::string unescape(const std::string &s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); i++) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            int v = 0;
            bool ok = true;
            for (int j = 1; j <= 3; j++) {
                char c = s[i + j];
                if (c < '0' || c > '7') {
                    ok = false;
                    break;
                }
                v = v * 8 + (c - '0');
            }
            if (ok) {
                out += static_cast<char>(v);
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

// mkdir -p; appends each directory it created to `created`, outermost first.
int makeDirs(const std::string &path, std::vector<std::string> &created)
{
    for (std::size_t pos = 1; pos <= path.size(); pos++) {
        if (pos != path.size() && path[pos] != '/')
            continue;
        std::string part = path.substr(0, pos);
        if (::mkdir(part.c_str(), 0755) == 0)
            created.push_back(std::move(part));
        else if (errno != EEXIST)
            return -errno;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

// Removes what makeDirs() created, innermost first (only while empty).
void removeDirs(const std::vector<std::string> &dirs)
{
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
        if (::rmdir(it->c_str()) < 0)
            LOG(Ffs, Debug) << "Failed to remove " << *it << ": " << errnoString(errno);
    }
}

} // namespace

std::vector<MountEntry> readMounts()
{
    std::vector<MountEntry> mounts;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        // ID PARENT MAJ:MIN ROOT TARGET OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
        std::istringstream s(line);
        std::string f, target;
        s >> f >> f >> f >> f >> target;
        while (s >> f && f != "-") {
        }
        MountEntry m;
        s >> m.fsType >> m.source;
        m.target = unescape(target);
        m.source = unescape(m.source);
        mounts.push_back(std::move(m));
    }
    return mounts;
}

Result<FfsMount> FfsMount::mount(const std::string &instance, const std::string &mountPoint)
{
    std::vector<std::string> created;
    if (int r = makeDirs(mountPoint, created); r < 0) {
        removeDirs(created);
        return errnoError(r, "Failed to create the FunctionFS mount point " + mountPoint);
    }
    // The configuration was checked at load, but the directory may have been filled since:
    // mounting over it would hide its files. One the daemon just created is empty.
    if (created.empty() || created.back() != mountPoint) {
        std::error_code ec;
        if (!std::filesystem::is_empty(mountPoint, ec) && !ec)
            return makeError(-ENOTEMPTY, "Refusing to mount FunctionFS on " + mountPoint +
                                                 ": the directory is not empty (expected a "
                                                 "missing or empty directory)");
    }
    if (::mount(instance.c_str(), mountPoint.c_str(), "functionfs",
                MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0) {
        int err = errno;
        removeDirs(created);
        return errnoError(err, "Failed to mount FunctionFS instance '" + instance + "' on " +
                                       mountPoint);
    }
    LOG(Ffs, Debug) << "Mounted FunctionFS '" << instance << "' on " << mountPoint;
    return FfsMount(mountPoint, std::move(created));
}

Result<int> FfsMount::unmountStale(const std::string &instance)
{
    int count = 0;
    // Innermost mounts last in mountinfo: unmount in reverse order.
    auto mounts = readMounts();
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
        if (it->fsType != "functionfs" || it->source != instance)
            continue;
        LOG(Ffs, Notice) << "Unmounting stale FunctionFS '" << instance << "' from " << it->target;
        // No MNT_DETACH here: EBUSY means a live process still has files open in it.
        if (::umount2(it->target.c_str(), 0) < 0)
            return errnoError(errno, "Failed to unmount stale FunctionFS from " + it->target +
                                             " (still in use by a running program?)");
        count++;
    }
    return count;
}

FfsMount::FfsMount(FfsMount &&other) noexcept
    : path_(std::move(other.path_)), createdDirs_(std::move(other.createdDirs_))
{
    other.path_.clear();
    other.createdDirs_.clear();
}

FfsMount &FfsMount::operator=(FfsMount &&other) noexcept
{
    if (this != &other) {
        unmount();
        path_ = std::move(other.path_);
        createdDirs_ = std::move(other.createdDirs_);
        other.path_.clear();
        other.createdDirs_.clear();
    }
    return *this;
}

FfsMount::~FfsMount()
{
    unmount();
}

void FfsMount::unmount()
{
    if (path_.empty())
        return;
    if (::umount2(path_.c_str(), 0) < 0) {
        int err = errno;
        // Something still holds a file: detach it so the instance can go away with it.
        LOG(Ffs, Warning) << "Failed to unmount " << path_ << ": " << errnoString(err)
                          << "; detaching it";
        if (::umount2(path_.c_str(), MNT_DETACH) < 0)
            LOG(Ffs, Error) << "Failed to detach " << path_ << ": " << errnoString(errno);
    } else {
        LOG(Ffs, Debug) << "Unmounted " << path_;
    }
    removeDirs(createdDirs_);
    createdDirs_.clear();
    path_.clear();
}

} // namespace iiousb::ffs
