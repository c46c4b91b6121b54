// A USB gadget in configfs (through libusbgx) holding FunctionFS functions, removed with
// everything under it when the object goes away. Binding to a UDC is a separate RAII object
// (UdcBinding) so that teardown can unbind first and remove last.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/Result.h"
#include "config/Config.h"

struct usbg_state;
struct usbg_gadget;

namespace iiousb::gadget {

class UdcBinding;

class Gadget {
public:
    // Creates usb_gadget/<config.name> with the device attributes and strings, one
    // configuration (c.1) and the functions ffs.<instance> linked into it in that order
    // (the first is interface 0). Fails with -EEXIST if a gadget of that name exists (see
    // removeStale()).
    static Result<std::unique_ptr<Gadget>> create(const GadgetConfig &config,
                                                  const std::vector<std::string> &ffsInstances);

    // Removes the gadget `name` left by a killed daemon, after calling `beforeRemove` (which
    // unmounts its FunctionFS). Returns true if there was one. A gadget of that name that is
    // still bound to a UDC has a live owner: -EBUSY, nothing touched.
    template <typename F>
    static Result<bool> removeStale(const std::string &name, F &&beforeRemove);

    Gadget(const Gadget &) = delete;
    Gadget &operator=(const Gadget &) = delete;
    ~Gadget();

    const std::string &name() const { return name_; }

    // Binds to `udc`, or to the first UDC no other gadget uses if `udc` is empty. -ENODEV
    // when there is no such UDC (yet).
    Result<std::unique_ptr<UdcBinding>> bind(const std::string &udc);

    // The gadget's UDC attribute in configfs: the UDC it is bound to, or was bound to while
    // that UDC is gone (the kernel binds the gadget again when a UDC of that name comes
    // back), or empty.
    std::string udcAttribute() const;
    static bool udcExists(const std::string &udc);

private:
    friend class UdcBinding;
    struct StateDeleter {
        void operator()(usbg_state *s) const;
    };
    using StatePtr = std::unique_ptr<usbg_state, StateDeleter>;

    Gadget(StatePtr state, usbg_gadget *gadget, std::string name)
        : state_(std::move(state)), gadget_(gadget), name_(std::move(name))
    {}

    static Result<StatePtr> openState();
    Result<void> refresh();
    static Result<bool> checkStale(const std::string &name);
    static Result<void> removeByName(const std::string &name);
    void unbind();

    StatePtr state_;
    usbg_gadget *gadget_; // owned by state_
    std::string name_;
};

// The gadget bound to a UDC; unbinds on destruction.
class UdcBinding {
public:
    explicit UdcBinding(Gadget &gadget, std::string udc) : gadget_(gadget), udc_(std::move(udc)) {}
    UdcBinding(const UdcBinding &) = delete;
    UdcBinding &operator=(const UdcBinding &) = delete;
    ~UdcBinding() { gadget_.unbind(); }

    const std::string &udc() const { return udc_; }

private:
    Gadget &gadget_;
    std::string udc_;
};

template <typename F>
Result<bool> Gadget::removeStale(const std::string &name, F &&beforeRemove)
{
    auto found = checkStale(name);
    if (!found)
        return found.takeError();
    Result<void> r = beforeRemove();
    if (!r)
        return r.takeError();
    if (!*found)
        return false;
    if (auto removed = removeByName(name); !removed)
        return removed.takeError();
    return true;
}

} // namespace iiousb::gadget
