// A FunctionFS instance mounted on a directory, unmounted when the object goes away.
#pragma once

#include <string>
#include <vector>

#include "base/Result.h"

namespace iiousb::ffs {

class FfsMount {
public:
    // Mounts the usb_f_fs instance `instance` (functions/ffs.<instance> must exist) on
    // `mountPoint`, creating the directory (and its missing parents) if needed; what it
    // created is removed again on failure and on unmount. An existing directory must be
    // empty (-ENOTEMPTY otherwise): the mount would hide its files.
    static Result<FfsMount> mount(const std::string &instance, const std::string &mountPoint);

    // Unmounts every functionfs mount of `instance` (a killed daemon's, for example).
    // Returns how many were unmounted.
    static Result<int> unmountStale(const std::string &instance);

    FfsMount(FfsMount &&other) noexcept;
    FfsMount &operator=(FfsMount &&other) noexcept;
    FfsMount(const FfsMount &) = delete;
    FfsMount &operator=(const FfsMount &) = delete;
    ~FfsMount();

    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

    void unmount();

private:
    FfsMount(std::string path, std::vector<std::string> createdDirs)
        : path_(std::move(path)), createdDirs_(std::move(createdDirs))
    {}

    std::string path_;                     // empty once unmounted or moved from
    std::vector<std::string> createdDirs_; // outermost first
};

struct MountEntry {
    std::string source;
    std::string target;
    std::string fsType;
};

// The mounts of this process's mount namespace (/proc/self/mountinfo), octal escapes decoded.
std::vector<MountEntry> readMounts();

} // namespace iiousb::ffs
