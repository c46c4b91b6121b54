// capture and play: START a stream, move its data with many bulk transfers in flight,
// STOP it, with a live status line and a summary.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include "BlockMeta.h"
#include "BulkStream.h"
#include "Commands.h"
#include "Format.h"
#include "PatternVerifier.h"
#include "Session.h"
#include "Sigmf.h"
#include "SignalGuard.h"
#include "StatusLine.h"
#include "UniqueFd.h"

namespace iiousb::tool {

namespace {

using Clock = std::chrono::steady_clock;

// Gaps printed as they are found; the summary counts them all.
constexpr std::uint64_t kGapsShown = 10;

std::uint64_t monotonicNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string describeGap(const GapEvent &g, proto::Direction dir, bool last)
{
    if (dir == proto::Direction::Tx) {
        std::string s = "underrun before block " + std::to_string(g.block) + " (sample " +
                        std::to_string(g.firstSample) + "): the DAC ran dry";
        if (!g.unknown)
            s += " for about " + std::to_string(g.lost) + " sample sets";
        return last ? s + "; further underruns are only counted" : s;
    }
    std::string s = "gap before block " + std::to_string(g.block) + " (sample " +
                    std::to_string(g.firstSample) + "): ";
    if (g.unknown)
        s += "sample sets lost, how many is unknown (the device has no sampling rate)";
    else if (!g.usbLoss && g.lost <= g.margin)
        s += "possibly; up to " + std::to_string(g.lost + g.margin) +
             " sample sets lost (the block was queued as the one before it completed)";
    else
        s += std::to_string(g.lost) + " sample sets lost" +
             (g.usbLoss     ? " (blocks that failed on USB)"
              : g.estimated ? " (+/- " + std::to_string(g.margin) + ", estimated by the device)"
                            : std::string());
    if (last)
        s += "; further gaps are only counted";
    return s;
}

// The metadata endpoint next to the streams (docs/protocol.md, "Metadata"): one bulk IN
// endpoint for all of them, read while they run (driven by their own event handling); every
// transfer's records go to one tracker per stream, which prints each gap (rx) or underrun
// (tx) as it learns of it.
class MetaReader {
public:
    struct Target {
        const proto::StreamInfo *stream = nullptr;
        std::string label;
        std::string logPath; // --meta-log for this stream, or empty
    };

    // nullptr where the device has no metadata endpoint or --no-meta.
    static Expected<std::unique_ptr<MetaReader>> open(const Options &opts, const Session &session,
                                                      std::vector<Target> targets,
                                                      StatusLine &status)
    {
        if (!opts.metadata || session.info().metaEndpoint == 0) {
            if (!opts.metaLog.empty())
                return Error{"--meta-log: " + std::string(opts.metadata
                                                                  ? "the device has no metadata "
                                                                    "endpoint"
                                                                  : "not with --no-meta")};
            return std::unique_ptr<MetaReader>();
        }
        BulkStreamConfig mc;
        mc.endpoint = session.info().metaEndpoint;
        // One packet per read: the device sends each transfer as one packet (short where a
        // packet holds more than one record), so every read ends with a transfer.
        const int mps = libusb_get_max_packet_size(libusb_get_device(session.device().handle.get()),
                                                   session.info().metaEndpoint);
        mc.transferSize = mps > 0 ? static_cast<std::uint32_t>(mps) : 1024;
        mc.transfers = 8;
        mc.devMem = false;
        auto bulk = BulkStream::create(session.context(), session.device().handle.get(), mc);
        if (!bulk)
            return bulk.error();
        std::unique_ptr<MetaReader> m(new MetaReader(session, std::move(*bulk)));
        for (Target &t : targets) {
            m->labels_ += (m->labels_.empty() ? "" : ",") + t.label;
            auto &f = m->followers_.emplace_back(std::make_unique<Follower>(std::move(t), status));
            if (!f->target.logPath.empty())
                if (auto r = f->logTo(f->target.logPath); !r)
                    return r.error();
        }
        return m;
    }

    BlockMetaTracker &tracker(std::size_t i) { return followers_[i]->tracker; }

    // After the STARTs with metadata.
    Expected<void> start()
    {
        auto r = bulk_->start([this](std::span<const std::uint8_t> data) {
            for (auto &f : followers_) {
                std::string why;
                if (!f->tracker.feedRecords(data.data(), data.size(),
                                            static_cast<std::uint8_t>(f->target.stream->index),
                                            &why)) {
                    error_ = "bad metadata from the device: " + why;
                    return false;
                }
            }
            return true;
        });
        if (!r)
            return Error{labels_ + ": metadata endpoint: " + r.error().message};
        return {};
    }

    // The streams moved `bytes` (one count per stream, in order): the records of their last
    // blocks come after the data, so wait a little for them, then take the transfers back.
    // (Up to a second: where the daemon queues each transfer behind its IIO fence, a
    // block's record leaves only once the daemon has seen the block's transfer complete,
    // and a loaded board takes longer than 200 ms for the last few.)
    void finish(std::span<const std::uint64_t> bytes)
    {
        auto waiting = [&] {
            for (std::size_t i = 0; i < followers_.size() && i < bytes.size(); ++i) {
                const Follower &f = *followers_[i];
                const std::uint64_t blocks =
                        bytes[i] / std::max<std::uint64_t>(f.target.stream->blockBytes, 1);
                if (f.tracker.records() < blocks)
                    return true;
            }
            return false;
        };
        const auto until = Clock::now() + std::chrono::seconds(1);
        while (Clock::now() < until && waiting()) {
            timeval tv{0, 20 * 1000};
            libusb_handle_events_timeout_completed(session_.context(), &tv, nullptr);
        }
        bulk_->drain();
        if (!error_ && bulk_->error() && !bulk_->deviceGone())
            error_ = "metadata endpoint: " + bulk_->error()->message;
    }

    // Stream i's summary line; false if the metadata itself failed (said once, with the
    // first stream that reports it).
    bool report(std::size_t i, bool latency) const
    {
        const Follower &f = *followers_[i];
        std::fprintf(stderr, "iiousb: %s: metadata: %s\n", f.target.label.c_str(),
                     f.tracker.summaryText(latency).c_str());
        if (!error_)
            return true;
        if (!errorShown_)
            printError(f.target.label + ": " + *error_);
        errorShown_ = true;
        return false;
    }

private:
    struct FileCloser {
        void operator()(std::FILE *f) const { std::fclose(f); }
    };

    // One stream's records.
    struct Follower {
        Follower(Target t, StatusLine &status)
            : target(std::move(t)),
              tracker(target.stream->blockBytes, target.stream->sampleBytes, target.stream->dir,
                      [this, &status](const GapEvent &g) {
                          if (shown++ >= kGapsShown)
                              return;
                          status.clear();
                          std::fprintf(
                                  stderr, "iiousb: %s: %s\n", target.label.c_str(),
                                  describeGap(g, target.stream->dir, shown == kGapsShown).c_str());
                      })
        {}
        Follower(const Follower &) = delete;
        Follower &operator=(const Follower &) = delete;

        // --meta-log FILE: every record as a CSV line.
        Expected<void> logTo(const std::string &path)
        {
            log.reset(std::fopen(path.c_str(), "w"));
            if (!log)
                return Error{"cannot write " + path + ": " + std::strerror(errno)};
            std::fprintf(log.get(),
                         "sequence,first_sample,lost,margin,flags,completion_ns,bytes\n");
            tracker.setObserver([f = log.get()](const proto::MetaRecord &r) {
                std::fprintf(f,
                             "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu32 ",0x%02x,%" PRIu64
                             ",%" PRIu32 "\n",
                             r.sequence, r.firstSample, r.lost, r.lostMargin, r.flags,
                             r.completionNs, r.bytes);
            });
            return {};
        }

        Target target;
        BlockMetaTracker tracker;
        std::uint64_t shown = 0;
        std::unique_ptr<std::FILE, FileCloser> log;
    };

    MetaReader(const Session &session, std::unique_ptr<BulkStream> bulk)
        : session_(session), bulk_(std::move(bulk))
    {}

    const Session &session_;
    std::unique_ptr<BulkStream> bulk_;
    std::vector<std::unique_ptr<Follower>> followers_;
    std::string labels_;
    std::optional<std::string> error_;
    mutable bool errorShown_ = false;
};

// STOP on the way out, whatever path that is (error, Ctrl-C, end of data); explicit
// stop() reports a failure, the destructor is the safety net.
class StreamStopper {
public:
    StreamStopper(const ControlClient &control, unsigned stream)
        : control_(control), stream_(stream)
    {}
    ~StreamStopper()
    {
        if (armed_)
            (void)control_.stop(stream_);
    }
    StreamStopper(const StreamStopper &) = delete;
    StreamStopper &operator=(const StreamStopper &) = delete;

    Expected<void> stop()
    {
        armed_ = false;
        return control_.stop(stream_);
    }

private:
    const ControlClient &control_;
    unsigned stream_;
    bool armed_ = true;
};

// Notices a stream the device stopped on its own (its IIO device went away, its error
// budget ran out): the bulk transfers then just wait. Once no data has moved for
// kQuietTicks status ticks (seconds), GET_STATS tells whether the stream still runs.
class StreamWatch {
public:
    StreamWatch(const ControlClient &control, unsigned stream) : control_(control), stream_(stream)
    {}

    // Called once a second with the bytes moved so far.
    void tick(std::uint64_t bytes)
    {
        if (bytes != lastBytes_) {
            lastBytes_ = bytes;
            quiet_ = 0;
            return;
        }
        if (++quiet_ < kQuietTicks || ended_)
            return;
        quiet_ = 0;
        auto stats = control_.stats(stream_);
        if (stats && stats->state != proto::StreamState::Running)
            ended_ = stats->state;
    }
    bool ended() const { return ended_.has_value(); }
    std::string message(const std::string &label) const
    {
        return label + ": the device stopped the stream (state " +
               std::string(proto::stateName(*ended_)) +
               "; its log says why, e.g. journalctl -u iiousbd)";
    }

private:
    static constexpr unsigned kQuietTicks = 2;
    const ControlClient &control_;
    unsigned stream_;
    std::uint64_t lastBytes_ = 0;
    unsigned quiet_ = 0;
    std::optional<proto::StreamState> ended_;
};

// Explains a stalled START with the stream's state from GET_STATS.
Error startError(const Session &session, const proto::StreamInfo &stream, const Error &error)
{
    std::string msg = error.message;
    if (auto stats = session.control().stats(stream.index))
        msg += "; the stream's state is " + std::string(proto::stateName(stats->state)) +
               " (the daemon's log says why: journalctl -u iiousbd)";
    return Error{std::move(msg)};
}

// "1 channel", "2 channels"
std::string countText(std::uint64_t n, const char *one, const char *many)
{
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string streamLabel(const proto::StreamInfo &s)
{
    return s.name.empty() ? "stream " + std::to_string(s.index) : s.name;
}

std::string transferText(const Options &opts, const BulkStream &bulk)
{
    std::string text = std::to_string(opts.transfers) + " x " +
                       formatBytesBinary(opts.transferSize) + " transfers in flight";
    if (bulk.usesDevMem())
        text += " (usbfs zero-copy buffers)";
    else if (bulk.devMemBuffers() > 0)
        text += " (" + std::to_string(bulk.devMemBuffers()) + " usbfs zero-copy buffers)";
    else
        text += " (heap buffers)";
    return text;
}

double cpuSeconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto secs = [](const timeval &tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// cpu: the process's CPU seconds, or none where several streams share them (the total line
// has them).
void printSummary(const std::string &label, const char *verb, std::uint64_t bytes, double seconds,
                  std::optional<double> cpu, const std::string &transfers, std::uint64_t errors)
{
    const double rate = seconds > 0 ? static_cast<double>(bytes) / seconds : 0;
    char cpuText[64] = "";
    if (cpu)
        std::snprintf(cpuText, sizeof(cpuText), "; CPU %.2f s (%.0f%%)", *cpu,
                      seconds > 0 ? 100 * *cpu / seconds : 0.0);
    std::fprintf(stderr,
                 "iiousb: %s: %s %s (%" PRIu64 " bytes) in %.2f s: %.2f MB/s (%.2f MiB/s); "
                 "%s, %" PRIu64 " failed%s\n",
                 label.c_str(), verb, formatBytes(bytes).c_str(), bytes, seconds, rate / 1e6,
                 rate / (1024.0 * 1024.0), transfers.c_str(), errors, cpuText);
}

void printDeviceStats(const Session &session, const proto::StreamInfo &stream,
                      const std::string &label)
{
    auto stats = session.control().stats(stream.index);
    if (!stats) {
        std::fprintf(stderr, "iiousb: %s: no device counters: %s\n", label.c_str(),
                     stats.error().message.c_str());
        return;
    }
    std::fprintf(stderr,
                 "iiousb: %s: device: %s, moved %s in %" PRIu64 " blocks, overruns %" PRIu64
                 ", underruns %" PRIu64 ", failed USB transfers %" PRIu64
                 ", failed IIO blocks %" PRIu64 ", short USB transfers %" PRIu64 "\n",
                 label.c_str(), std::string(proto::stateName(stats->state)).c_str(),
                 formatBytes(stats->bytes).c_str(), stats->blocks, stats->overruns,
                 stats->underruns, stats->usbErrors, stats->iioErrors, stats->shortTransfers);
}

std::string signalNote()
{
    const int sig = SignalGuard::caught();
    if (!sig)
        return {};
    return std::string("stopped by ") + (sig == SIGINT ? "Ctrl-C" : strsignal(sig));
}

Expected<UniqueFd> openOutput(const std::string &path)
{
    if (path == "-") {
        if (isatty(STDOUT_FILENO))
            return Error{"refusing to write binary samples to a terminal: use -o FILE, "
                         "-o /dev/null or a pipe"};
        return UniqueFd(STDOUT_FILENO, false);
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return Error{"cannot open " + path + " for writing: " + std::strerror(errno)};
    return UniqueFd(fd);
}

Expected<UniqueFd> openInput(const std::string &path)
{
    if (path == "-")
        return UniqueFd(STDIN_FILENO, false);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return Error{"cannot open " + path + " for reading: " + std::strerror(errno)};
    return UniqueFd(fd);
}

Expected<PatternLayout> verifyLayout(const proto::StreamInfo &stream)
{
    PatternLayout layout;
    layout.blockBytes = stream.blockBytes;
    for (const proto::ChannelInfo &c : stream.channels) {
        auto index = channelScanIndex(c.id);
        if (!index)
            return Error{"cannot verify: channel '" + c.id + "' has no scan index in its name"};
        if (c.format != "le:s16/16>>0" && c.format != "le:u16/16>>0")
            return Error{"cannot verify: channel " + c.id + " has format " + c.format +
                         ", iio-sim's pattern is 16-bit little endian"};
        layout.channels.push_back(*index);
    }
    if (stream.sampleBytes != 2 * layout.channels.size())
        return Error{"cannot verify: " + std::to_string(stream.sampleBytes) +
                     " bytes per sample set for " + std::to_string(layout.channels.size()) +
                     " 16-bit channels"};
    return layout;
}

void printVerifyReport(const PatternVerifier &verifier, const std::string &label)
{
    const VerifySummary &s = verifier.summary();
    if (s.streamBytes == 0) {
        std::fprintf(stderr, "iiousb: %s: verify: no data arrived, nothing was checked\n",
                     label.c_str());
        return;
    }
    const char *mode = verifier.kind() == PatternKind::Header ? "header" : "full";
    std::fprintf(stderr, "iiousb: %s: verify (%s): %s checked, %s\n", label.c_str(), mode,
                 formatBytes(s.streamBytes).c_str(),
                 s.ok() ? "pattern OK" : verifier.statusText().c_str());
    if (s.synced)
        std::fprintf(stderr, "iiousb: %s: verify: first sample %" PRIu64 "%s\n", label.c_str(),
                     s.firstSample,
                     verifier.kind() == PatternKind::Header
                             ? (", " + std::to_string(s.headers) + " good block headers").c_str()
                             : "");
    if (s.ok())
        return;
    std::fprintf(stderr,
                 "iiousb: %s: verify: lost %" PRIu64 " bytes in %" PRIu64
                 " places, duplicated %" PRIu64 " bytes in %" PRIu64 ", corrupt %" PRIu64
                 " bytes in %" PRIu64 "\n",
                 label.c_str(), s.lostBytes, s.lostEvents, s.duplicatedBytes, s.duplicatedEvents,
                 s.corruptBytes, s.corruptEvents);
    for (const VerifyEvent &e : verifier.events())
        std::fprintf(stderr, "iiousb: %s: verify: %s %" PRIu64 " bytes at offset %" PRIu64 "%s%s\n",
                     label.c_str(), std::string(eventKindName(e.kind)).c_str(), e.bytes, e.offset,
                     e.detail.empty() ? "" : ": ", e.detail.c_str());
    const std::uint64_t total = s.lostEvents + s.duplicatedEvents + s.corruptEvents;
    if (total > verifier.events().size())
        std::fprintf(stderr, "iiousb: %s: verify: ... %" PRIu64 " more\n", label.c_str(),
                     total - verifier.events().size());
}

// The SigMF writer of a capture of `stream` to `output` (format Sigmf): the datatype from
// the channels (--complex pairs them), the device, its stream and the tool's version.
Expected<SigmfWriter> sigmfWriterFor(const Options &opts, const std::string &output,
                                     const Session &session, const proto::StreamInfo &stream)
{
    auto type = sigmfDatatype(stream, opts.complex);
    if (!type)
        return type.error();
    auto paths = sigmfPaths(output);
    if (!paths)
        return paths.error();
    SigmfGlobal global;
    global.datatype = type->name;
    global.numChannels = type->numChannels;
    global.sampleRate = stream.rate;
    global.hw = "iiousb serial=" + session.info().serial + " stream=" + streamLabel(stream) +
                " iio=" + stream.iio;
    global.description = sigmfDescription(stream, *type);
    global.recorder = "iiousb " IIOUSB_VERSION;
    return SigmfWriter(std::move(*paths), std::move(global));
}

// Fills OUT transfers from a file or stdin (or, with --cyclic, from the input held in
// memory and repeated), stops at -n, and pads the last block with zeros: the device
// consumes whole blocks.
class PlaySource {
public:
    PlaySource(int fd, std::uint64_t limit, std::uint64_t block)
        : fd_(fd), limit_(limit), block_(block)
    {}

    Expected<void> loadCyclic()
    {
        constexpr std::size_t kMax = std::size_t{1} << 30;
        std::vector<std::uint8_t> data;
        std::uint8_t buf[65536];
        for (;;) {
            ssize_t r = ::read(fd_, buf, sizeof(buf));
            if (r < 0 && errno == EINTR) {
                if (SignalGuard::caught())
                    return Error{"interrupted while reading the input"};
                continue;
            }
            if (r < 0)
                return Error{std::string("cannot read the input: ") + std::strerror(errno)};
            if (r == 0)
                break;
            data.insert(data.end(), buf, buf + r);
            if (data.size() > kMax)
                return Error{"--cyclic: the input is larger than 1 GiB"};
        }
        if (data.empty())
            return Error{"--cyclic: the input is empty"};
        cyclic_ = std::move(data);
        return {};
    }

    std::size_t fill(std::span<std::uint8_t> buf)
    {
        std::size_t n = 0;
        while (n < buf.size()) {
            if (!eof_) {
                std::size_t want = buf.size() - n;
                if (limit_)
                    want = static_cast<std::size_t>(
                            std::min<std::uint64_t>(want, limit_ - produced_));
                if (want == 0) {
                    endOfData();
                    continue;
                }
                if (cyclic_) {
                    const std::size_t k = std::min(want, cyclic_->size() - cyclicPos_);
                    std::memcpy(buf.data() + n, cyclic_->data() + cyclicPos_, k);
                    cyclicPos_ = (cyclicPos_ + k) % cyclic_->size();
                    n += k;
                    produced_ += k;
                    continue;
                }
                ssize_t r = ::read(fd_, buf.data() + n, want);
                if (r < 0 && errno == EINTR) {
                    if (SignalGuard::caught())
                        break;
                    continue;
                }
                if (r < 0) {
                    error_ = Error{std::string("cannot read the input: ") + std::strerror(errno)};
                    endOfData();
                    continue;
                }
                if (r == 0) {
                    endOfData();
                    continue;
                }
                n += static_cast<std::size_t>(r);
                produced_ += static_cast<std::uint64_t>(r);
            } else if (padLeft_ > 0) {
                const std::size_t k =
                        static_cast<std::size_t>(std::min<std::uint64_t>(padLeft_, buf.size() - n));
                std::memset(buf.data() + n, 0, k);
                n += k;
                padLeft_ -= k;
                padded_ += k;
            } else {
                break;
            }
        }
        return n;
    }

    std::uint64_t produced() const { return produced_; }
    std::uint64_t padded() const { return padded_; }
    const std::optional<std::vector<std::uint8_t>> &cyclicData() const { return cyclic_; }
    const std::optional<Error> &error() const { return error_; }

private:
    void endOfData()
    {
        eof_ = true;
        padLeft_ = block_ ? (block_ - produced_ % block_) % block_ : 0;
    }

    int fd_;
    std::uint64_t limit_;
    std::uint64_t block_;
    std::optional<std::vector<std::uint8_t>> cyclic_;
    std::size_t cyclicPos_ = 0;
    bool eof_ = false;
    std::uint64_t produced_ = 0;
    std::uint64_t padLeft_ = 0;
    std::uint64_t padded_ = 0;
    std::optional<Error> error_;
};

// -n in bytes (0: no limit); samples need the stream's sample-set size.
Expected<std::uint64_t> byteLimit(const Options &opts, const proto::StreamInfo &stream)
{
    if (!opts.count)
        return std::uint64_t{0};
    if (opts.count->unit == Amount::Unit::Samples && stream.sampleBytes == 0)
        return Error{"-n counts sample sets, but stream '" + streamLabel(stream) +
                     "' has no sample size (no channels enabled?): give bytes instead (e.g. "
                     "-n 16MiB)"};
    return opts.count->bytes(stream.sampleBytes);
}

struct Deadline {
    std::optional<Clock::time_point> at;
    bool passed() const { return at && Clock::now() >= *at; }
};

Deadline deadlineFor(const Options &opts)
{
    Deadline d;
    if (opts.seconds > 0)
        d.at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(opts.seconds));
    return d;
}

// A stream named on the command line, checked to go the way the command moves data, with
// its byte limit.
struct ResolvedStream {
    const proto::StreamInfo *stream = nullptr;
    std::string label;
    std::uint64_t limit = 0;
};

Expected<ResolvedStream> resolveStream(const Session &session, std::string_view key,
                                       const Options &opts, proto::Direction dir)
{
    auto found = session.stream(key);
    if (!found)
        return found.error();
    ResolvedStream r;
    r.stream = *found;
    r.label = streamLabel(*r.stream);
    if (r.stream->dir != dir) {
        if (dir == proto::Direction::Rx)
            return Error{"stream '" + r.label +
                         "' is a tx stream (host to device): use 'iiousb play'"};
        return Error{"stream '" + r.label +
                     "' is an rx stream (device to host): use 'iiousb capture'"};
    }
    auto counted = byteLimit(opts, *r.stream);
    if (!counted)
        return counted.error();
    r.limit = *counted;
    return r;
}

// What play starts from: the device session and its one stream.
struct StreamTarget {
    std::unique_ptr<Session> session;
    const proto::StreamInfo *stream = nullptr;
    std::string label;
    std::uint64_t limit = 0;

    static Expected<StreamTarget> open(const Options &opts, proto::Direction dir)
    {
        auto opened = Session::open(opts);
        if (!opened)
            return opened.error();
        StreamTarget t;
        t.session = std::move(*opened);
        auto found = resolveStream(*t.session, opts.stream, opts, dir);
        if (!found)
            return found.error();
        t.stream = found->stream;
        t.label = std::move(found->label);
        t.limit = found->limit;
        return t;
    }
};

// play of a SigMF recording: its datatype and channels must be the stream's; a different
// sample rate or a data file that ends within a sample set is only a warning. Prints what is
// played; false (after the error) when it cannot be.
bool checkSigmfInput(const SigmfPaths &paths, const proto::StreamInfo &stream,
                     const std::string &label)
{
    auto recording = readSigmfRecording(paths);
    if (!recording) {
        printError(recording.error().message);
        return false;
    }
    if (auto fits = checkRecordingFitsStream(*recording, stream); !fits) {
        printError(fits.error().message);
        return false;
    }
    std::string rate = "no sample rate";
    if (recording->sampleRate) {
        char buf[48];
        std::snprintf(buf, sizeof(buf), "%.10g Hz", *recording->sampleRate);
        rate = buf;
    }
    std::fprintf(stderr, "iiousb: %s: SigMF recording %s: %s x %s, %s%s%s\n", label.c_str(),
                 paths.data.c_str(), recording->datatype.c_str(),
                 countText(recording->numChannels, "channel", "channels").c_str(), rate.c_str(),
                 recording->hw.empty() ? "" : ", from ", recording->hw.c_str());
    if (auto warning = sampleRateWarning(*recording, stream))
        std::fprintf(stderr, "iiousb: %s: warning: %s\n", label.c_str(), warning->c_str());
    struct stat st {};
    if (::stat(paths.data.c_str(), &st) == 0 && S_ISREG(st.st_mode) && stream.sampleBytes &&
        static_cast<std::uint64_t>(st.st_size) % stream.sampleBytes != 0)
        std::fprintf(stderr,
                     "iiousb: %s: warning: %s ends within a sample set (%" PRIu64
                     " bytes are not a multiple of %u)\n",
                     label.c_str(), paths.data.c_str(), static_cast<std::uint64_t>(st.st_size),
                     stream.sampleBytes);
    return true;
}

// One stream of a capture: where its data goes (raw file or SigMF recording), its pattern
// check, its bulk transfers and what it moved.
class CaptureStream {
public:
    CaptureStream(const Session &session, const proto::StreamInfo &stream, std::string label,
                  std::uint64_t limit)
        : session_(session), stream_(stream), label_(std::move(label)), limit_(limit)
    {}
    CaptureStream(const CaptureStream &) = delete;
    CaptureStream &operator=(const CaptureStream &) = delete;

    const proto::StreamInfo &stream() const { return stream_; }
    const std::string &label() const { return label_; }
    std::uint64_t written() const { return written_; }
    BulkStream &bulk() { return *bulk_; }
    const std::optional<PatternVerifier> &verifier() const { return verifier_; }

    // Everything up to the START: the output (-o with {} for the stream's name), the
    // verifier, the bulk transfers.
    Expected<void> prepare(const Options &opts)
    {
        const std::string output = perStreamPath(opts.output, label_);
        // A SigMF recording holds whole sample sets (and the meta says how many channels).
        if (opts.format == FileFormat::Sigmf) {
            auto writer = sigmfWriterFor(opts, output, session_, stream_);
            if (!writer)
                return writer.error();
            sigmf_.emplace(std::move(*writer));
            if (const std::uint64_t partial = limit_ % stream_.sampleBytes; partial) {
                if (limit_ < stream_.sampleBytes)
                    return Error{"-n " + std::to_string(limit_) + "B is less than one " +
                                 std::to_string(stream_.sampleBytes) + "-byte sample set"};
                limit_ -= partial;
                std::fprintf(stderr,
                             "iiousb: %s: -n rounded down to %" PRIu64
                             " bytes, whole %u-byte sample sets\n",
                             label_.c_str(), limit_, stream_.sampleBytes);
            }
        }

        if (opts.verify != VerifyMode::None) {
            auto layout = verifyLayout(stream_);
            if (!layout)
                return layout.error();
            // A stream we start ourselves begins at sample 0; one already running does not.
            auto before = session_.control().stats(stream_.index);
            const bool fresh = before && before->state != proto::StreamState::Running;
            auto v = PatternVerifier::create(*layout,
                                             opts.verify == VerifyMode::Header ? PatternKind::Header
                                                                               : PatternKind::Auto,
                                             fresh);
            if (!v)
                return v.error();
            verifier_.emplace(std::move(*v));
        }

        // An older NAME.sigmf-meta goes first, so that a capture cut short (killed) leaves a
        // data file without a meta rather than with one that does not describe it.
        if (sigmf_ && ::unlink(sigmf_->paths().meta.c_str()) != 0 && errno != ENOENT)
            return Error{"cannot remove the old " + sigmf_->paths().meta + ": " +
                         std::strerror(errno)};
        outputPath_ = sigmf_ ? sigmf_->paths().data : output;
        auto fd = openOutput(outputPath_);
        if (!fd)
            return fd.error();
        output_ = std::move(*fd);

        BulkStreamConfig config;
        config.endpoint = stream_.endpoint;
        config.transferSize = opts.transferSize;
        config.transfers = opts.transfers;
        config.devMem = opts.devMem;
        auto bulk = BulkStream::create(session_.context(), session_.device().handle.get(), config);
        if (!bulk)
            return bulk.error();
        bulk_ = std::move(*bulk);
        return {};
    }

    // START (with metadata for `tracker`); STOP is then sent however the capture ends.
    Expected<void> start(BlockMetaTracker *tracker)
    {
        tracker_ = tracker;
        if (auto r = session_.control().start(stream_.index, tracker != nullptr); !r)
            return startError(session_, stream_, r.error());
        stopper_.emplace(session_.control(), stream_.index);
        watch_.emplace(session_.control(), stream_.index);
        // The recording starts with sample 0 of the stream (START restarts it): its time is
        // the host's clock when the device acknowledged START.
        if (sigmf_)
            sigmf_->addCapture(0, 0, std::chrono::system_clock::now());
        return {};
    }

    // The bulk transfers' data; false once the stream has had all it wants.
    bool sink(std::span<const std::uint8_t> data)
    {
        bool more = take(data);
        if (!more && !endedAt_)
            endedAt_ = Clock::now();
        return more;
    }

    // Once a second: the live rate, and whether the device stopped the stream on its own.
    double tick(Clock::time_point now)
    {
        watch_->tick(written_);
        return meter_.tick(now, written_);
    }
    bool stoppedByDevice() const { return watch_ && watch_->ended(); }
    void startClock(Clock::time_point t) { meter_ = RateMeter(t); }

    // The seconds from `start` to when the stream had its data (or to `end`).
    double seconds(Clock::time_point start, Clock::time_point end) const
    {
        return std::chrono::duration<double>(endedAt_.value_or(end) - start).count();
    }

    // After the transfers are back: the verifier's look-ahead, STOP, the SigMF meta.
    // Returns the exit status so far.
    int finish()
    {
        if (verifier_)
            verifier_->finish();
        int rc = kExitOk;
        if (const auto &e = bulk_->error()) {
            printError(label_ + ": " + e->message);
            rc = kExitFailure;
        }
        if (stoppedByDevice()) {
            printError(watch_->message(label_));
            rc = kExitFailure;
        }
        if (writeError_) {
            printError(writeError_->message);
            rc = kExitFailure;
        }
        if (!bulk_->deviceGone() && stopper_) {
            if (auto r = stopper_->stop(); !r) {
                printError(r.error().message);
                rc = kExitFailure;
            }
        }
        if (sigmf_ && !finishSigmf())
            rc = kExitFailure;
        return rc;
    }

    // The summary lines (without the process's CPU time where several streams share it).
    void printReport(const Options &opts, double seconds, std::optional<double> cpu) const
    {
        printSummary(label_, "captured", written_, seconds, cpu, transferText(opts, *bulk_),
                     bulk_->counters().errors);
        if (sigmf_)
            std::fprintf(
                    stderr, "iiousb: %s: SigMF recording %s + %s: %s of %s x %s; %s, %s%s\n",
                    label_.c_str(), sigmf_->paths().data.c_str(), sigmf_->paths().meta.c_str(),
                    countText(written_ / stream_.sampleBytes, "sample set", "sample sets").c_str(),
                    sigmf_->global().datatype.c_str(),
                    countText(sigmf_->global().numChannels, "channel", "channels").c_str(),
                    countText(sigmf_->captureCount(), "capture segment", "capture segments")
                            .c_str(),
                    countText(sigmf_->annotationCount(), "annotation", "annotations").c_str(),
                    sigmfNote_.c_str());
        if (outputClosed_)
            std::fprintf(stderr, "iiousb: %s: the output was closed (broken pipe)\n",
                         label_.c_str());
        if (const std::string note = signalNote(); !note.empty())
            std::fprintf(stderr, "iiousb: %s: %s\n", label_.c_str(), note.c_str());
        if (!bulk_->deviceGone())
            printDeviceStats(session_, stream_, label_);
    }

    // The verify report, gaps cross-checked against the device's metadata; the exit status.
    int verifyReport() const
    {
        if (!verifier_)
            return kExitOk;
        printVerifyReport(*verifier_, label_);
        bool gapsExplained = false;
        if (tracker_ && verifier_->summary().gapEvents) {
            const GapCrossCheck c = crossCheckGaps(verifier_->gaps(), tracker_->gapEvents());
            std::fprintf(stderr,
                         "iiousb: %s: verify: gaps in the data vs the device's metadata: %" PRIu64
                         " at the same blocks (%" PRIu64 " with the same count), %" PRIu64
                         " not announced, %" PRIu64
                         " announced but not in the data; largest count difference %" PRIu64
                         " sample sets, %" PRIu64 " beyond the device's margin\n",
                         label_.c_str(), c.matched, c.exact, c.unannounced, c.notInData, c.maxDiff,
                         c.outsideMargin);
            for (const std::string &d : c.details)
                std::fprintf(stderr, "iiousb: %s: verify: %s\n", label_.c_str(), d.c_str());
            gapsExplained = c.ok() && verifier_->summary().gapEvents <= verifier_->gaps().size() &&
                            tracker_->gaps() <= tracker_->gapEvents().size();
        }
        return verifier_->summary().ok(gapsExplained) ? kExitOk : kExitVerifyFailed;
    }

private:
    bool take(std::span<const std::uint8_t> data)
    {
        std::size_t n = data.size();
        if (limit_)
            n = static_cast<std::size_t>(std::min<std::uint64_t>(n, limit_ - written_));
        if (n == 0)
            return false;
        if (verifier_)
            verifier_->feed(data.first(n));
        const int fd = output_.get();
        std::size_t done = 0;
        while (done < n) {
            ssize_t r = ::write(fd, data.data() + done, n - done);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno == EPIPE) {
                outputClosed_ = true;
                return false;
            }
            if (r < 0) {
                writeError_ = Error{"cannot write " + outputPath_ + ": " + std::strerror(errno)};
                return false;
            }
            done += static_cast<std::size_t>(r);
        }
        written_ += n;
        if (tracker_)
            tracker_->onData(written_, monotonicNs());
        return !(limit_ && written_ >= limit_);
    }

    bool finishSigmf()
    {
        bool ok = true;
        // Transfers end anywhere in a sample set when the capture is stopped (Ctrl-C, -t):
        // the data file keeps whole ones.
        if (const std::uint64_t partial = written_ % stream_.sampleBytes; partial) {
            struct stat st {};
            if (::fstat(output_.get(), &st) == 0 && S_ISREG(st.st_mode) &&
                ::ftruncate(output_.get(), static_cast<off_t>(written_ - partial)) == 0) {
                written_ -= partial;
                sigmfNote_ = ", a partial last sample set of " + std::to_string(partial) +
                             " bytes dropped";
            } else {
                printError("cannot cut " + outputPath_ + " to whole sample sets: it ends with " +
                           std::to_string(partial) + " bytes of a partial one");
                ok = false;
            }
        }
        // Each gap the device reported in the file: a capture segment where the samples go
        // on (with the stream's sample index) and an annotation (the records come after
        // their data, so this is done at the end; the tracker keeps the first kMaxGaps).
        if (tracker_ && stream_.sampleBytes) {
            const std::uint64_t perBlock = stream_.blockBytes / stream_.sampleBytes;
            const std::uint64_t samples = written_ / stream_.sampleBytes;
            for (const GapEvent &g : tracker_->gapEvents()) {
                const std::uint64_t at = g.block * perBlock;
                if (at < samples)
                    sigmf_->noteGap(at, g.firstSample, g.lost);
            }
        }
        if (auto r = sigmf_->finish(); !r) {
            printError(r.error().message);
            ok = false;
        }
        return ok;
    }

    const Session &session_;
    const proto::StreamInfo &stream_;
    std::string label_;
    std::uint64_t limit_;
    std::optional<SigmfWriter> sigmf_;
    std::string sigmfNote_;
    std::optional<PatternVerifier> verifier_;
    std::string outputPath_;
    UniqueFd output_;
    std::unique_ptr<BulkStream> bulk_;
    BlockMetaTracker *tracker_ = nullptr;
    std::optional<StreamStopper> stopper_;
    std::optional<StreamWatch> watch_;
    RateMeter meter_{Clock::now()};
    std::uint64_t written_ = 0;
    bool outputClosed_ = false;
    std::optional<Error> writeError_;
    std::optional<Clock::time_point> endedAt_;
};

// The live status line of a capture: one stream as before; several with the sum first and
// each stream's rate after it.
std::string captureProgress(std::vector<std::unique_ptr<CaptureStream>> &streams,
                            const std::vector<double> &rates, double seconds)
{
    if (streams.size() == 1) {
        CaptureStream &c = *streams.front();
        const std::string extra = c.verifier() ? c.verifier()->statusText() : std::string();
        return formatProgress({c.label(), "rx", rates.front(), c.written(), seconds,
                               c.bulk().counters().errors, extra});
    }
    std::string names;
    std::string extra;
    double rate = 0;
    std::uint64_t total = 0;
    std::uint64_t errors = 0;
    for (std::size_t i = 0; i < streams.size(); ++i) {
        CaptureStream &c = *streams[i];
        names += (i ? "," : "") + c.label();
        rate += rates[i];
        total += c.written();
        errors += c.bulk().counters().errors;
        extra += (i ? ", " : "") + c.label() + " " + formatRate(rates[i]);
        if (c.verifier())
            extra += " " + c.verifier()->statusText();
    }
    return formatProgress({names, "rx", rate, total, seconds, errors, extra});
}

} // namespace

int runCapture(const Options &opts)
{
    auto opened = Session::open(opts);
    if (!opened) {
        printError(opened.error().message);
        return kExitFailure;
    }
    const Session &session = **opened;
    const std::vector<std::string> keys =
            opts.streams.empty() ? std::vector<std::string>{opts.stream} : opts.streams;
    std::vector<std::unique_ptr<CaptureStream>> streams;
    for (const std::string &key : keys) {
        auto found = resolveStream(session, key, opts, proto::Direction::Rx);
        if (!found) {
            printError(found.error().message);
            return kExitFailure;
        }
        for (const auto &other : streams)
            if (&other->stream() == found->stream) {
                printError("stream '" + found->label + "' given twice");
                return kExitFailure;
            }
        streams.push_back(std::make_unique<CaptureStream>(session, *found->stream, found->label,
                                                          found->limit));
    }
    for (auto &c : streams) {
        if (auto r = c->prepare(opts); !r) {
            printError(r.error().message);
            return kExitFailure;
        }
    }

    StatusLine status(!opts.quiet);
    std::vector<MetaReader::Target> targets;
    for (auto &c : streams)
        targets.push_back(
                {&c->stream(), c->label(),
                 opts.metaLog.empty() ? std::string() : perStreamPath(opts.metaLog, c->label())});
    auto meta = MetaReader::open(opts, session, std::move(targets), status);
    if (!meta) {
        printError(meta.error().message);
        return kExitFailure;
    }

    SignalGuard signals;
    for (std::size_t i = 0; i < streams.size(); ++i) {
        if (auto r = streams[i]->start(*meta ? &(*meta)->tracker(i) : nullptr); !r) {
            printError(r.error().message);
            return kExitFailure;
        }
    }
    if (*meta) {
        if (auto r = (*meta)->start(); !r) {
            printError(r.error().message);
            return kExitFailure;
        }
    }

    const Deadline deadline = deadlineFor(opts);
    auto stop = [&] {
        return SignalGuard::caught() != 0 || deadline.passed() ||
               std::any_of(streams.begin(), streams.end(),
                           [](const auto &c) { return c->stoppedByDevice(); });
    };
    std::vector<BulkStream::Member> members;
    for (auto &c : streams)
        members.push_back({&c->bulk(), [c = c.get()](std::span<const std::uint8_t> data) {
                               return c->sink(data);
                           }});

    const auto start = Clock::now();
    const double cpuStart = cpuSeconds();
    for (auto &c : streams)
        c->startClock(start);
    std::vector<double> rates(streams.size());
    auto tick = [&] {
        const auto now = Clock::now();
        for (std::size_t i = 0; i < streams.size(); ++i)
            rates[i] = streams[i]->tick(now);
        status.show(captureProgress(streams, rates,
                                    std::chrono::duration<double>(now - start).count()));
    };

    BulkStream::runTogether(members, stop, tick);
    const auto end = Clock::now();
    const double cpu = cpuSeconds() - cpuStart;
    std::vector<std::uint64_t> bytes;
    for (auto &c : streams)
        bytes.push_back(c->bulk().counters().bytes);
    if (*meta)
        (*meta)->finish(bytes);
    status.clear();

    int rc = kExitOk;
    for (auto &c : streams)
        if (const int r = c->finish(); r != kExitOk)
            rc = r;
    const bool several = streams.size() > 1;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < streams.size(); ++i) {
        CaptureStream &c = *streams[i];
        c.printReport(opts, c.seconds(start, end), several ? std::nullopt : std::optional(cpu));
        total += c.written();
        if (*meta && !(*meta)->report(i, opts.latency) && rc == kExitOk)
            rc = kExitFailure;
        if (!*meta && opts.latency)
            std::fprintf(stderr, "iiousb: %s: no latency: %s\n", c.label().c_str(),
                         opts.metadata ? "the device has no metadata endpoint" : "--no-meta");
        if (const int r = c.verifyReport(); r != kExitOk && rc == kExitOk)
            rc = r;
    }
    if (several) {
        std::string names;
        std::uint64_t errors = 0;
        for (auto &c : streams) {
            names += (names.empty() ? "" : ", ") + c->label();
            errors += c->bulk().counters().errors;
        }
        printSummary("total", "captured", total, std::chrono::duration<double>(end - start).count(),
                     cpu, std::to_string(streams.size()) + " streams (" + names + ")", errors);
    }
    return rc;
}

// play --cyclic with a waveform of at most one block: START_CYCLIC, one bulk OUT transfer,
// then the device plays it (IIO_BUFFER_DMABUF_CYCLIC) until Ctrl-C or -t, then STOP.
int playCyclicOnDevice(const Session &session, const proto::StreamInfo &stream,
                       const std::string &label, const std::vector<std::uint8_t> &wave,
                       const Options &opts)
{
    const ControlClient &control = session.control();
    if (auto r = control.startCyclic(stream.index, wave.size()); !r) {
        printError(startError(session, stream, r.error()).message);
        return kExitFailure;
    }
    StreamStopper stopper(control, stream.index);
    std::vector<std::uint8_t> copy(wave);
    int sent = 0;
    int r = libusb_bulk_transfer(session.device().handle.get(), stream.endpoint, copy.data(),
                                 static_cast<int>(copy.size()), &sent, 10000);
    if (r < 0 || static_cast<std::size_t>(sent) != wave.size()) {
        printError(label + ": uploading the cyclic waveform failed after " + std::to_string(sent) +
                   " bytes: " + libusb_error_name(r));
        return kExitFailure;
    }
    // The device reports the waveform once it has it.
    const auto uploadStart = Clock::now();
    for (;;) {
        auto st = control.stats(stream.index);
        if (!st) {
            printError(st.error().message);
            return kExitFailure;
        }
        if (st->state != proto::StreamState::Running) {
            printError(label + ": the device did not start the cyclic waveform (state " +
                       std::string(proto::stateName(st->state)) + "; see its log)");
            return kExitFailure;
        }
        if (st->bytes == wave.size())
            break;
        if (Clock::now() - uploadStart > std::chrono::seconds(5)) {
            printError(label + ": the device did not confirm the cyclic waveform");
            return kExitFailure;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::fprintf(stderr,
                 "iiousb: %s: cyclic waveform of %zu bytes uploaded once; the device repeats it "
                 "until %s\n",
                 label.c_str(), wave.size(), opts.seconds > 0 ? "the time is up" : "Ctrl-C");
    SignalGuard signals;
    const Deadline deadline = deadlineFor(opts);
    while (!SignalGuard::caught() && !deadline.passed()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto st = control.stats(stream.index);
        if (!st || st->state != proto::StreamState::Running) {
            printError(label + ": the cyclic waveform stopped" +
                       (st ? " (state " + std::string(proto::stateName(st->state)) + ")"
                           : ": " + st.error().message));
            return kExitFailure;
        }
    }
    if (auto s = stopper.stop(); !s) {
        printError(s.error().message);
        return kExitFailure;
    }
    if (const std::string note = signalNote(); !note.empty())
        std::fprintf(stderr, "iiousb: %s: %s\n", label.c_str(), note.c_str());
    printDeviceStats(session, stream, label);
    return kExitOk;
}

int runPlay(const Options &opts)
{
    auto target = StreamTarget::open(opts, proto::Direction::Tx);
    if (!target) {
        printError(target.error().message);
        return kExitFailure;
    }
    const Session &session = *target->session;
    const proto::StreamInfo &stream = *target->stream;
    const std::string &label = target->label;
    const std::uint64_t limit = target->limit;

    auto resolved = resolvePlayInput(opts.input, opts.format);
    if (!resolved) {
        printError(resolved.error().message);
        return kExitFailure;
    }
    if (resolved->sigmf) {
        if (!checkSigmfInput(*resolved->sigmf, stream, label))
            return kExitFailure;
    }
    auto input = openInput(resolved->path);
    if (!input) {
        printError(input.error().message);
        return kExitFailure;
    }

    SignalGuard signals;
    PlaySource source(input->get(), limit, stream.blockBytes);
    if (opts.cyclic) {
        if (auto r = source.loadCyclic(); !r) {
            printError(r.error().message);
            return kExitFailure;
        }
    }

    // A waveform that fits in one block is uploaded once and repeated by the device.
    if (opts.cyclic && !opts.count && source.cyclicData()->size() <= stream.blockBytes &&
        stream.sampleBytes && source.cyclicData()->size() % stream.sampleBytes == 0)
        return playCyclicOnDevice(session, stream, label, *source.cyclicData(), opts);
    if (opts.cyclic)
        std::fprintf(stderr,
                     "iiousb: %s: the input (%zu bytes) is not 1 to %" PRIu64
                     " bytes of whole %u-byte sample sets: repeating it from the host\n",
                     label.c_str(), source.cyclicData()->size(), stream.blockBytes,
                     stream.sampleBytes);

    BulkStreamConfig config;
    config.endpoint = stream.endpoint;
    config.transferSize = opts.transferSize;
    config.transfers = opts.transfers;
    config.devMem = opts.devMem;
    auto bulk = BulkStream::create(session.context(), session.device().handle.get(), config);
    if (!bulk) {
        printError(bulk.error().message);
        return kExitFailure;
    }

    StatusLine status(!opts.quiet);
    auto meta = MetaReader::open(opts, session, {{&stream, label, opts.metaLog}}, status);
    if (!meta) {
        printError(meta.error().message);
        return kExitFailure;
    }
    if (auto r = session.control().start(stream.index, *meta != nullptr); !r) {
        printError(startError(session, stream, r.error()).message);
        return kExitFailure;
    }
    StreamStopper stopper(session.control(), stream.index);
    if (*meta) {
        if (auto r = (*meta)->start(); !r) {
            printError(r.error().message);
            return kExitFailure;
        }
    }

    const Deadline deadline = deadlineFor(opts);
    StreamWatch watch(session.control(), stream.index);
    auto stop = [&] { return SignalGuard::caught() != 0 || deadline.passed() || watch.ended(); };
    auto noSink = [](std::span<const std::uint8_t>) { return false; };
    auto fill = [&](std::span<std::uint8_t> buf) { return source.fill(buf); };

    const auto start = Clock::now();
    const double cpuStart = cpuSeconds();
    RateMeter meter(start);
    auto tick = [&](const BulkStreamCounters &c) {
        const auto now = Clock::now();
        watch.tick(c.bytes);
        status.show(formatProgress({label,
                                    "tx",
                                    meter.tick(now, c.bytes),
                                    c.bytes,
                                    meter.elapsed(now),
                                    c.errors,
                                    {}}));
    };

    auto result = (*bulk)->run(noSink, fill, stop, tick);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double cpu = cpuSeconds() - cpuStart;
    status.clear();

    int rc = kExitOk;
    if (!result) {
        printError(label + ": " + result.error().message);
        rc = kExitFailure;
    }
    if (watch.ended()) {
        printError(watch.message(label));
        rc = kExitFailure;
    }
    if (source.error()) {
        printError(source.error()->message);
        rc = kExitFailure;
    }
    const bool deviceGone = (*bulk)->deviceGone();

    // The last blocks are on the device but maybe not yet played; STOP drops data in
    // flight, so wait (a little) until the device has moved everything it was sent.
    const std::uint64_t sent = (*bulk)->counters().bytes;
    if (result && !SignalGuard::caught()) {
        std::uint64_t lastBytes = 0;
        auto lastProgress = Clock::now();
        while (!SignalGuard::caught()) {
            auto stats = session.control().stats(stream.index);
            if (!stats || stats->state != proto::StreamState::Running || stats->bytes >= sent)
                break;
            if (stats->bytes != lastBytes) {
                lastBytes = stats->bytes;
                lastProgress = Clock::now();
            } else if (Clock::now() - lastProgress > std::chrono::seconds(2)) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    if (*meta)
        (*meta)->finish(std::span(&sent, 1));
    if (!deviceGone) {
        if (auto r = stopper.stop(); !r) {
            printError(r.error().message);
            rc = kExitFailure;
        }
    }

    printSummary(label, "sent", sent, seconds, cpu, transferText(opts, **bulk),
                 (*bulk)->counters().errors);
    if (source.padded())
        std::fprintf(stderr,
                     "iiousb: %s: padded the last block with %" PRIu64
                     " zero bytes (the device consumes whole blocks of %" PRIu64 " bytes)\n",
                     label.c_str(), source.padded(), stream.blockBytes);
    if (const std::string note = signalNote(); !note.empty())
        std::fprintf(stderr, "iiousb: %s: %s\n", label.c_str(), note.c_str());
    if (!deviceGone)
        printDeviceStats(session, stream, label);
    if (*meta && !(*meta)->report(0, false))
        rc = kExitFailure;
    return rc;
}

} // namespace iiousb::tool
