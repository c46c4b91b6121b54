// iiousbd: exposes IIO devices as a USB gadget (docs/protocol.md, docs/configuration.md).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <getopt.h>
#include <sysexits.h>

#include "check/SystemCheck.h"
#include "config/Config.h"
#include "log/Log.h"
#include "service/Daemon.h"

namespace {

IIOUSB_LOG_CATEGORY(Main, "main")

constexpr const char *kDefaultConfig = "/etc/iiousbd/iiousbd.yaml";

void usage(FILE *out)
{
    fprintf(out,
            "Usage: iiousbd [OPTIONS]\n"
            "Expose IIO devices to a USB host through a FunctionFS gadget.\n"
            "\n"
            "  -c, --config FILE        configuration to run (default %s)\n"
            "      --check-config FILE  validate FILE and exit: 0 if valid, %d (EX_CONFIG)\n"
            "                           with file:line:column and the problem if not;\n"
            "                           nothing on the system is touched\n"
            "      --check-system       report what the zero-copy path needs and what this\n"
            "                           system has, one line per check (with --config: its\n"
            "                           UDC, IIO devices and heaps); exit 0 all there, 1\n"
            "                           zero-copy impossible on a side (copy fallback), 2\n"
            "                           iiousbd or a stream cannot run. Sets nothing up\n"
            "  -l, --log-level SPEC     LEVEL or CATEGORY=LEVEL,... (debug, info, notice,\n"
            "                           warning, error; default info; also $IIOUSB_LOG)\n"
            "  -h, --help               show this help\n"
            "      --version            show the version\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop and remove the gadget; SIGHUP re-reads the\n"
            "configuration (a bad one is reported and the running one kept).\n",
            kDefaultConfig, EX_CONFIG);
}

} // namespace

int main(int argc, char **argv)
{
    const auto started = std::chrono::steady_clock::now();
    enum { OptCheckConfig = 256, OptCheckSystem, OptVersion };
    static const option options[] = {
            {"config", required_argument, nullptr, 'c'},
            {"check-config", required_argument, nullptr, OptCheckConfig},
            {"check-system", no_argument, nullptr, OptCheckSystem},
            {"log-level", required_argument, nullptr, 'l'},
            {"help", no_argument, nullptr, 'h'},
            {"version", no_argument, nullptr, OptVersion},
            {nullptr, 0, nullptr, 0},
    };

    std::string configPath = kDefaultConfig;
    std::string checkPath;
    bool check = false;
    bool checkSystem = false;
    bool configGiven = false;
    std::string error;

    if (const char *env = getenv("IIOUSB_LOG"); env && !iiousb::log::configure(env, &error))
        fprintf(stderr, "iiousbd: ignoring $IIOUSB_LOG: %s\n", error.c_str());

    int opt;
    while ((opt = getopt_long(argc, argv, "c:l:h", options, nullptr)) != -1) {
        switch (opt) {
        case 'c':
            configPath = optarg;
            configGiven = true;
            break;
        case OptCheckSystem:
            checkSystem = true;
            break;
        case OptCheckConfig:
            check = true;
            checkPath = optarg;
            break;
        case 'l':
            if (!iiousb::log::configure(optarg, &error)) {
                fprintf(stderr, "iiousbd: --log-level: %s\n", error.c_str());
                return EX_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        case OptVersion:
            printf("iiousbd %s (USB protocol %u)\n", IIOUSB_VERSION, iiousb::proto::kVersion);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "iiousbd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EX_USAGE;
    }

    if (check) {
        auto config = iiousb::loadConfig(checkPath);
        if (!config) {
            fprintf(stderr, "%s\n", config.error().message.c_str());
            return EX_CONFIG;
        }
        printf("%s: OK (gadget %s %04x:%04x, %zu streams)\n", checkPath.c_str(),
               config->gadget.name.c_str(), config->gadget.vendorId, config->gadget.productId,
               config->streams.size());
        return EXIT_SUCCESS;
    }

    if (checkSystem)
        return iiousb::check::runSystemCheck(configPath, configGiven);

    auto config = iiousb::loadConfig(configPath);
    if (!config) {
        LOG(Main, Error) << config.error().message;
        return EX_CONFIG;
    }
    iiousb::Daemon daemon(std::move(*config), started);
    return daemon.run();
}
