#include "ffs/FfsDescriptors.h"

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

namespace iiousb::ffs {

namespace {

class Writer {
public:
    void u8(std::uint8_t v) { data_.push_back(v); }
    void le16(std::uint16_t v)
    {
        u8(static_cast<std::uint8_t>(v));
        u8(static_cast<std::uint8_t>(v >> 8));
    }
    void le32(std::uint32_t v)
    {
        le16(static_cast<std::uint16_t>(v));
        le16(static_cast<std::uint16_t>(v >> 16));
    }
    void patchLe32(std::size_t offset, std::uint32_t v)
    {
        for (int i = 0; i < 4; i++)
            data_[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    std::size_t size() const { return data_.size(); }
    std::vector<std::uint8_t> take() { return std::move(data_); }

private:
    std::vector<std::uint8_t> data_;
};

void interfaceDescriptor(Writer &w, std::size_t numEndpoints, const InterfaceClass &cls)
{
    w.u8(USB_DT_INTERFACE_SIZE);
    w.u8(USB_DT_INTERFACE);
    w.u8(0); // bInterfaceNumber (f_fs remaps it)
    w.u8(0); // bAlternateSetting
    w.u8(static_cast<std::uint8_t>(numEndpoints));
    w.u8(cls.interfaceClass);
    w.u8(cls.subClass);
    w.u8(cls.protocol);
    w.u8(1); // iInterface: the first string of the strings blob
}

void endpointDescriptor(Writer &w, const EndpointSpec &ep, std::uint16_t maxPacket)
{
    w.u8(USB_DT_ENDPOINT_SIZE); // usb_endpoint_descriptor_no_audio
    w.u8(USB_DT_ENDPOINT);
    w.u8(ep.address);
    w.u8(ep.interrupt ? USB_ENDPOINT_XFER_INT : USB_ENDPOINT_XFER_BULK);
    w.le16(maxPacket);
    // Interrupt: every frame (full speed) or microframe (2^(1-1) at high and SuperSpeed);
    // unused for bulk.
    w.u8(ep.interrupt ? 1 : 0);
}

void ssCompanionDescriptor(Writer &w, const EndpointSpec &ep)
{
    w.u8(USB_DT_SS_EP_COMP_SIZE);
    w.u8(USB_DT_SS_ENDPOINT_COMP);
    w.u8(ep.interrupt ? 0 : proto::kSuperSpeedMaxBurst);
    w.u8(0); // bmAttributes: no streams, one packet per burst
    // wBytesPerInterval: what an interrupt endpoint may move per service interval.
    w.le16(ep.interrupt ? proto::kMetaMaxPacketSuperSpeed : 0);
}

} // namespace

std::vector<std::uint8_t> buildDescriptors(std::span<const proto::Direction> endpoints,
                                           bool metadata)
{
    std::vector<EndpointSpec> eps;
    for (std::size_t i = 0; i < endpoints.size(); i++)
        eps.push_back({proto::endpointAddress(i, endpoints[i]), false});
    if (metadata)
        eps.push_back({proto::endpointAddress(endpoints.size(), proto::Direction::Rx), true});
    return buildDescriptors(
            eps, {proto::kInterfaceClass, proto::kInterfaceSubClass, proto::kInterfaceProtocol});
}

std::vector<std::uint8_t> buildDescriptors(std::span<const std::uint8_t> addresses,
                                           const InterfaceClass &cls)
{
    std::vector<EndpointSpec> eps;
    for (std::uint8_t a : addresses)
        eps.push_back({a, false});
    return buildDescriptors(eps, cls);
}

std::vector<std::uint8_t> buildDescriptors(std::span<const EndpointSpec> endpoints,
                                           const InterfaceClass &cls)
{
    const std::size_t n = endpoints.size();
    Writer w;
    w.le32(FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
    w.le32(0); // length, patched below
    w.le32(FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | FUNCTIONFS_HAS_SS_DESC);
    w.le32(static_cast<std::uint32_t>(1 + n));     // fs_count
    w.le32(static_cast<std::uint32_t>(1 + n));     // hs_count
    w.le32(static_cast<std::uint32_t>(1 + 2 * n)); // ss_count: endpoints + companions

    const std::uint16_t bulk[] = {proto::kBulkMaxPacketFullSpeed, proto::kBulkMaxPacketHighSpeed,
                                  proto::kBulkMaxPacketSuperSpeed};
    const std::uint16_t interrupt[] = {proto::kMetaMaxPacketFullSpeed,
                                       proto::kMetaMaxPacketHighSpeed,
                                       proto::kMetaMaxPacketSuperSpeed};
    for (int speed = 0; speed < 3; speed++) {
        interfaceDescriptor(w, n, cls);
        for (const EndpointSpec &ep : endpoints) {
            endpointDescriptor(w, ep, ep.interrupt ? interrupt[speed] : bulk[speed]);
            if (speed == 2)
                ssCompanionDescriptor(w, ep);
        }
    }
    w.patchLe32(4, static_cast<std::uint32_t>(w.size()));
    return w.take();
}

std::vector<std::uint8_t> buildStrings(std::string_view interfaceName)
{
    Writer w;
    w.le32(FUNCTIONFS_STRINGS_MAGIC);
    w.le32(0); // length, patched below
    w.le32(1); // str_count
    w.le32(1); // lang_count
    w.le16(0x0409);
    for (char c : interfaceName)
        w.u8(static_cast<std::uint8_t>(c));
    w.u8(0);
    w.patchLe32(4, static_cast<std::uint32_t>(w.size()));
    return w.take();
}

} // namespace iiousb::ffs
