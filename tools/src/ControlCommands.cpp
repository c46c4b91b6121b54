// list, info, stats: the commands that use the control pipe only.
#include <cstdio>

#include "Commands.h"
#include "Session.h"

namespace iiousb::tool {

void printError(const std::string &message)
{
    std::fprintf(stderr, "iiousb: %s\n", message.c_str());
}

int runList(const Options &opts)
{
    auto ctx = UsbContext::create();
    if (!ctx) {
        printError(ctx.error().message);
        return kExitFailure;
    }
    auto candidates = findCandidates(ctx->get(), opts.usbId);
    if (!candidates) {
        printError(candidates.error().message);
        return kExitFailure;
    }

    std::vector<ListEntry> entries;
    for (const DeviceCandidate &c : *candidates) {
        ListEntry e;
        e.protocol = c.interface.protocol;
        e.endpoints = static_cast<unsigned>(c.interface.endpoints.size());
        auto handle = UsbDeviceHandle::open(c.device);
        if (!handle) {
            e.usb = usbSummaryOf(c, {});
            e.problem = "no access (permission denied? see 'iiousb info' for the fix)";
            entries.push_back(std::move(e));
            continue;
        }
        const std::string serial = handle->stringDescriptor(c.serialIndex);
        e.usb = usbSummaryOf(c, serial);
        if (!opts.serial.empty() && serial != opts.serial)
            continue;
        if (c.interface.protocol != proto::kInterfaceProtocol) {
            e.problem =
                    "protocol version " + std::to_string(c.interface.protocol) + " (not supported)";
        } else if (auto claim = InterfaceClaim::claim(*handle, c.interface.number); !claim) {
            e.problem = "busy (in use by another program)";
        } else {
            ControlClient control(handle->get(), static_cast<std::uint16_t>(c.interface.number));
            auto info = control.readInfo();
            if (info)
                e.info = std::move(*info);
            else
                e.problem = info.error().message;
        }
        entries.push_back(std::move(e));
    }

    if (entries.empty()) {
        if (opts.json)
            std::fputs("[]\n", stdout);
        printError(noDeviceMessage(opts));
        return kExitFailure;
    }
    const std::string out = opts.json ? listJson(entries) : listText(entries);
    std::fputs(out.c_str(), stdout);
    return kExitOk;
}

int runInfo(const Options &opts)
{
    auto session = Session::open(opts);
    if (!session) {
        printError(session.error().message);
        return kExitFailure;
    }
    const Session &s = **session;
    const std::string out =
            opts.json ? infoJson(s.info(), s.usbSummary()) : infoText(s.info(), s.usbSummary());
    std::fputs(out.c_str(), stdout);
    return kExitOk;
}

int runStats(const Options &opts)
{
    auto session = Session::open(opts);
    if (!session) {
        printError(session.error().message);
        return kExitFailure;
    }
    const Session &s = **session;
    std::vector<const proto::StreamInfo *> streams;
    if (!opts.stream.empty()) {
        auto stream = s.stream(opts.stream);
        if (!stream) {
            printError(stream.error().message);
            return kExitFailure;
        }
        streams.push_back(*stream);
    } else {
        for (const proto::StreamInfo &st : s.info().streams)
            streams.push_back(&st);
    }

    std::vector<StreamStats> rows;
    for (const proto::StreamInfo *st : streams) {
        auto stats = s.control().stats(st->index);
        if (!stats) {
            printError(stats.error().message);
            return kExitFailure;
        }
        rows.push_back({st, *stats});
    }
    const std::string out = opts.json ? statsJson(rows) : statsText(rows);
    std::fputs(out.c_str(), stdout);
    return kExitOk;
}

} // namespace iiousb::tool
