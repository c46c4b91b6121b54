#include "gadget/Gadget.h"

#include <cerrno>
#include <fstream>

#include <unistd.h>

#include <usbg/usbg.h>

#include "log/Log.h"

namespace iiousb::gadget {

IIOUSB_LOG_CATEGORY(Gadget, "gadget")

namespace {

constexpr const char *kConfigfs = "/sys/kernel/config";
constexpr int kLangUs = 0x409;

int usbgErrno(int e)
{
    switch (e) {
    case USBG_ERROR_NO_MEM:
        return -ENOMEM;
    case USBG_ERROR_NO_ACCESS:
        return -EACCES;
    case USBG_ERROR_INVALID_PARAM:
    case USBG_ERROR_INVALID_VALUE:
    case USBG_ERROR_INVALID_FORMAT:
    case USBG_ERROR_INVALID_TYPE:
        return -EINVAL;
    case USBG_ERROR_NOT_FOUND:
        return -ENOENT;
    case USBG_ERROR_EXIST:
        return -EEXIST;
    case USBG_ERROR_NO_DEV:
        return -ENODEV;
    case USBG_ERROR_BUSY:
        return -EBUSY;
    case USBG_ERROR_NOT_SUPPORTED:
        return -EOPNOTSUPP;
    case USBG_ERROR_PATH_TOO_LONG:
        return -ENAMETOOLONG;
    case USBG_ERROR_NOT_EMPTY:
        return -ENOTEMPTY;
    default:
        return -EIO;
    }
}

Error usbgError(int e, const std::string &what)
{
    return makeError(usbgErrno(e), what + ": " + usbg_strerror(static_cast<usbg_error>(e)) + " (" +
                                           usbg_error_name(static_cast<usbg_error>(e)) + ")");
}

} // namespace

void Gadget::StateDeleter::operator()(usbg_state *s) const
{
    usbg_cleanup(s);
}

Result<Gadget::StatePtr> Gadget::openState()
{
    usbg_state *s = nullptr;
    int r = usbg_init(kConfigfs, &s);
    if (r != USBG_SUCCESS)
        return usbgError(r, std::string("Failed to open ") + kConfigfs +
                                    "/usb_gadget (is configfs mounted and libcomposite loaded?)");
    return StatePtr(s);
}

Result<bool> Gadget::checkStale(const std::string &name)
{
    auto state = openState();
    if (!state)
        return state.takeError();
    usbg_gadget *g = usbg_get_gadget(state->get(), name.c_str());
    if (!g)
        return false;
    // f_fs unbinds the gadget when the last ep0 user goes away (ffs_closed()), so a gadget
    // still bound has a live owner: another iiousbd, or a gadget that is not ours.
    if (usbg_udc *udc = usbg_get_gadget_udc(g))
        return makeError(-EBUSY, "Gadget '" + name + "' exists and is bound to " +
                                         usbg_get_udc_name(udc) +
                                         ": is another iiousbd running? (a killed one leaves "
                                         "it unbound)");
    return true;
}

Result<void> Gadget::removeByName(const std::string &name)
{
    auto state = openState();
    if (!state)
        return state.takeError();
    usbg_gadget *g = usbg_get_gadget(state->get(), name.c_str());
    if (!g)
        return {};
    LOG(Gadget, Notice) << "Removing stale gadget '" << name << "'";
    if (int r = usbg_rm_gadget(g, USBG_RM_RECURSE); r != USBG_SUCCESS)
        return usbgError(r, "Failed to remove stale gadget '" + name + "'");
    return {};
}

Result<std::unique_ptr<Gadget>> Gadget::create(const GadgetConfig &config,
                                               const std::vector<std::string> &ffsInstances)
{
    auto state = openState();
    if (!state)
        return state.takeError();

    usbg_gadget_attrs attrs{};
    attrs.bcdUSB = 0x0200;  // composite raises it for SuperSpeed and LPM
    attrs.bDeviceClass = 0; // per interface
    attrs.bMaxPacketSize0 = 64;
    attrs.idVendor = config.vendorId;
    attrs.idProduct = config.productId;
    attrs.bcdDevice = config.bcdDevice;

    std::string manufacturer = config.manufacturer, product = config.product,
                serial = config.serial;
    usbg_gadget_strs strs{};
    strs.manufacturer = manufacturer.data();
    strs.product = product.data();
    strs.serial = serial.data();

    usbg_gadget *g = nullptr;
    int r = usbg_create_gadget(state->get(), config.name.c_str(), &attrs, &strs, &g);
    if (r != USBG_SUCCESS)
        return usbgError(r, "Failed to create gadget '" + config.name + "'");
    // From here on the destructor removes whatever was created.
    std::unique_ptr<Gadget> gadget(new Gadget(std::move(*state), g, config.name));

    std::vector<usbg_function *> functions;
    for (const std::string &ffsInstance : ffsInstances) {
        usbg_function *f = nullptr;
        r = usbg_create_function(g, USBG_F_FFS, ffsInstance.c_str(), nullptr, &f);
        if (r != USBG_SUCCESS)
            return usbgError(r, "Failed to create function ffs." + ffsInstance + " in gadget '" +
                                        config.name +
                                        "' (instance names are global: is another "
                                        "gadget using it?)");
        functions.push_back(f);
    }

    std::string configLabel = "iiousb";
    usbg_config_strs cstrs{};
    cstrs.configuration = configLabel.data();
    usbg_config *c = nullptr;
    r = usbg_create_config(g, 1, "c", nullptr, &cstrs, &c);
    if (r != USBG_SUCCESS)
        return usbgError(r, "Failed to create configuration c.1 in gadget '" + config.name + "'");
    // configfs's MaxPower is in mA (usbg_config_attrs.bMaxPower is too narrow for 500).
    if (r = usbg_set_config_max_power(c, static_cast<int>(config.maxPowerMa)); r != USBG_SUCCESS)
        return usbgError(r, "Failed to set MaxPower " + std::to_string(config.maxPowerMa) +
                                    " mA in gadget '" + config.name + "'");
    if (r = usbg_set_config_bm_attrs(c, 0x80); r != USBG_SUCCESS) // bus powered
        return usbgError(r, "Failed to set bmAttributes in gadget '" + config.name + "'");
    // Interfaces are numbered in link order: the first instance's function is interface 0.
    std::string links;
    for (std::size_t i = 0; i < functions.size(); i++) {
        const std::string link = "ffs." + ffsInstances[i];
        r = usbg_add_config_function(c, link.c_str(), functions[i]);
        if (r != USBG_SUCCESS)
            return usbgError(r, "Failed to link " + link + " into c.1 of gadget '" + config.name +
                                        "'");
        links += (i ? ", " : "") + link;
    }

    LOG(Gadget, Debug) << "Created gadget '" << config.name << "' with functions " << links;
    return gadget;
}

std::string Gadget::udcAttribute() const
{
    // Read from configfs, not libusbgx's cache: the kernel changes it behind our back.
    std::ifstream in(std::string(kConfigfs) + "/usb_gadget/" + name_ + "/UDC");
    std::string udc;
    std::getline(in, udc);
    return udc;
}

bool Gadget::udcExists(const std::string &udc)
{
    return !udc.empty() && access(("/sys/class/udc/" + udc).c_str(), F_OK) == 0;
}

Result<void> Gadget::refresh()
{
    // libusbgx reads the UDC list once, at usbg_init(): a UDC that appeared since is only
    // seen by a new state.
    auto state = openState();
    if (!state)
        return state.takeError();
    usbg_gadget *g = usbg_get_gadget(state->get(), name_.c_str());
    if (!g)
        return makeError(-ENOENT, "Gadget '" + name_ + "' is gone from configfs");
    state_ = std::move(*state);
    gadget_ = g;
    return {};
}

Result<std::unique_ptr<UdcBinding>> Gadget::bind(const std::string &udcName)
{
    if (auto r = refresh(); !r)
        return r.takeError();
    usbg_udc *udc = nullptr;
    if (!udcName.empty()) {
        udc = usbg_get_udc(state_.get(), udcName.c_str());
        if (!udc)
            return makeError(-ENODEV, "No UDC '" + udcName + "' (see /sys/class/udc)");
        if (usbg_gadget *other = usbg_get_udc_gadget(udc); other && other != gadget_)
            return makeError(-EBUSY, "UDC '" + udcName + "' is used by gadget '" +
                                             usbg_get_gadget_name(other) + "'");
    } else {
        for (usbg_udc *u = usbg_get_first_udc(state_.get()); u; u = usbg_get_next_udc(u)) {
            if (!usbg_get_udc_gadget(u)) {
                udc = u;
                break;
            }
        }
        if (!udc)
            return makeError(-ENODEV, "No free UDC in /sys/class/udc for gadget '" + name_ + "'");
    }
    const std::string chosen = usbg_get_udc_name(udc);
    if (int r = usbg_enable_gadget(gadget_, udc); r != USBG_SUCCESS)
        return usbgError(r, "Failed to bind gadget '" + name_ + "' to UDC " + chosen);
    return std::make_unique<UdcBinding>(*this, chosen);
}

void Gadget::unbind()
{
    // Also a name the kernel keeps for a UDC that went away (it binds again when that UDC
    // comes back).
    if (udcAttribute().empty())
        return;
    if (int r = usbg_disable_gadget(gadget_); r != USBG_SUCCESS)
        LOG(Gadget, Error) << usbgError(r, "Failed to unbind gadget '" + name_ + "'").message;
    else
        LOG(Gadget, Debug) << "Unbound gadget '" << name_ << "'";
}

Gadget::~Gadget()
{
    unbind();
    if (int r = usbg_rm_gadget(gadget_, USBG_RM_RECURSE); r != USBG_SUCCESS)
        LOG(Gadget, Error) << usbgError(r, "Failed to remove gadget '" + name_ + "'").message;
    else
        LOG(Gadget, Debug) << "Removed gadget '" << name_ << "'";
}

} // namespace iiousb::gadget
