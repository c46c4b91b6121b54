#include "ControlClient.h"

#include <array>

#include "Usb.h"

namespace iiousb::tool {

unsigned ControlClient::timeoutFor(proto::RequestCode code) const
{
    return code == proto::RequestCode::Start || code == proto::RequestCode::StartCyclic
                   ? startTimeoutMs_
                   : timeoutMs_;
}

Expected<int> ControlClient::transfer(proto::RequestCode code, std::uint16_t value,
                                      unsigned char *data, std::uint16_t length,
                                      std::string_view what) const
{
    const proto::SetupPacket setup = proto::encodeRequest(code, value, length, interface_);
    const unsigned timeoutMs = timeoutFor(code);
    int r = libusb_control_transfer(handle_, setup.requestType, setup.request, setup.value,
                                    setup.index, data, setup.length, timeoutMs);
    if (r >= 0)
        return r;
    std::string msg(what);
    switch (r) {
    case LIBUSB_ERROR_PIPE:
        msg += ": the device refused the request (STALL)";
        break;
    case LIBUSB_ERROR_NO_DEVICE:
        msg += ": the device is gone (unplugged or the gadget was unbound)";
        break;
    case LIBUSB_ERROR_TIMEOUT:
        msg += ": no answer within " + std::to_string(timeoutMs) +
               " ms (is iiousbd running and serving ep0?)";
        break;
    default:
        msg += ": " + usbErrorText(r);
    }
    return Error{std::move(msg)};
}

Expected<std::string> ControlClient::readInfoText() const
{
    std::string text;
    std::array<unsigned char, proto::kInfoMaxSlice> slice;
    for (;;) {
        if (text.size() > 0xffff)
            return Error{"GET_INFO: the info text is longer than 64 KiB"};
        auto n = transfer(proto::RequestCode::GetInfo, static_cast<std::uint16_t>(text.size()),
                          slice.data(), proto::kInfoMaxSlice,
                          "GET_INFO at offset " + std::to_string(text.size()));
        if (!n)
            return n.error();
        text.append(reinterpret_cast<const char *>(slice.data()), static_cast<std::size_t>(*n));
        if (*n < proto::kInfoMaxSlice)
            return text;
    }
}

Expected<proto::DeviceInfo> ControlClient::readInfo() const
{
    auto text = readInfoText();
    if (!text)
        return text.error();
    std::string error;
    auto info = proto::parseInfo(*text, &error);
    if (!info)
        return Error{"GET_INFO: the device's description is malformed: " + error};
    return std::move(*info);
}

Expected<void> ControlClient::start(unsigned stream, bool metadata) const
{
    const auto value =
            static_cast<std::uint16_t>(stream | (metadata ? proto::kStartWithMetadata : 0));
    auto r =
            transfer(proto::RequestCode::Start, value, nullptr, 0,
                     "START stream " + std::to_string(stream) + (metadata ? " with metadata" : ""));
    if (!r)
        return r.error();
    return {};
}

Expected<void> ControlClient::stop(unsigned stream) const
{
    auto r = transfer(proto::RequestCode::Stop, static_cast<std::uint16_t>(stream), nullptr, 0,
                      "STOP stream " + std::to_string(stream));
    if (!r)
        return r.error();
    return {};
}

Expected<void> ControlClient::startCyclic(unsigned stream, std::uint64_t bytes) const
{
    auto data = proto::encodeCyclicLength(bytes);
    auto r = transfer(proto::RequestCode::StartCyclic, static_cast<std::uint16_t>(stream),
                      data.data(), static_cast<std::uint16_t>(data.size()),
                      "START_CYCLIC stream " + std::to_string(stream));
    if (!r)
        return r.error();
    return {};
}

Expected<proto::Stats> ControlClient::stats(unsigned stream) const
{
    proto::StatsRecord record{};
    auto n = transfer(proto::RequestCode::GetStats, static_cast<std::uint16_t>(stream),
                      record.data(), static_cast<std::uint16_t>(record.size()),
                      "GET_STATS stream " + std::to_string(stream));
    if (!n)
        return n.error();
    std::string error;
    auto stats = proto::decodeStats(
            std::span<const std::uint8_t>(record.data(), static_cast<std::size_t>(*n)), &error);
    if (!stats)
        return Error{"GET_STATS stream " + std::to_string(stream) + ": " + error};
    return *stats;
}

} // namespace iiousb::tool
