// IIO devices through libiio's local backend: finds a stream's device and channels, reads
// their data formats and sampling frequency, writes configured attributes. Buffers and
// DMABUFs are outside libiio 0.24 and belong to the pipeline.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/Result.h"
#include "config/Config.h"
#include "protocol/Protocol.h"

struct iio_context;
struct iio_device;

namespace iiousb::iio {

struct IioChannelDescription {
    std::string id;     // "voltage0"
    long scanIndex = 0; // position in the scan
    proto::ScanFormat format;
};

struct IioStreamDescription {
    std::string deviceId;                        // "iio:device0"
    std::string deviceName;                      // "iio-sim-adc"
    std::vector<IioChannelDescription> channels; // enabled channels in scan order
    unsigned sampleBytes = 0;                    // bytes per scan (sample set)
    std::uint64_t rate = 0;                      // sampling_frequency in Hz, 0 if none
    // The stream's attributes as (sysfs file, value) when the device was busy at set-up:
    // written at START, once the stream owns the buffer (IioBuffer::open()).
    std::vector<std::pair<std::string, std::string>> pendingAttributes;
};

// Bytes of one scan with these elements, laid out like the kernel does
// (iio_compute_scan_bytes(): each element aligned to its size, the whole to the largest;
// a repeated element counts as one element of storage bytes x repeat).
unsigned scanBytes(const std::vector<proto::ScanFormat> &elements);

class IioContext {
public:
    static Result<std::unique_ptr<IioContext>> createLocal();
    IioContext(const IioContext &) = delete;
    IioContext &operator=(const IioContext &) = delete;
    ~IioContext();

    // Finds the stream's device (by id, name or label) and channels ("all": every scan
    // element of the stream's direction but the timestamp).
    Result<IioStreamDescription> describe(const StreamConfig &stream) const;

    // Writes the stream's attributes: a device attribute of that name, or else the attribute
    // of the first of the stream's channels that has it. Not while another program has the
    // device open (it would change that program's running capture): then they are left to
    // the stream's START (describe() returns them as pendingAttributes).
    Result<void> applyAttributes(const StreamConfig &stream) const;

private:
    explicit IioContext(iio_context *ctx) : ctx_(ctx) {}
    Result<iio_device *> findDevice(const std::string &selector) const;

    iio_context *ctx_;
    // Stream name -> attributes left to START by applyAttributes().
    mutable std::map<std::string, std::vector<std::pair<std::string, std::string>>> pending_;
};

} // namespace iiousb::iio
