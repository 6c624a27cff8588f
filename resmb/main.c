/* main.c — the switchresmb command line.  Parses options and delegates:
 * loading/validation to configs/, encryption of DCPassword to password.c,
 * the --check summary to summary.c, the processing run to run.c (and its parts, run_int.h). */
#include "resmb/cli.h"
#include "resmb/resmb.h"

#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs(
        "Usage: switchresmb [OPTIONS] SwitchResMB.ini\n"
        "       switchresmb [--mode MODE] [--target-ad] SwitchResMB.ini PASSWORD|-\n"
        "\n"
        "Process the resource mailboxes listed in SwitchResMB.ini, or, with a second\n"
        "argument, encrypt the domain controller password into its [AD] DCPassword.\n"
        "\n"
        "Options:\n"
        "  --check            validate the file(s) and print what would be processed\n"
        "  --status           what the journal says of each mailbox; runs nothing\n"
        "  --cpuu-ini PATH    with --check: check this CPUU.ini instead of the one a run\n"
        "                     would use (-INI in CPUUCmdLine, else beside the file)\n"
        "  --dry-run          resolve the mailboxes and read their switch messages;\n"
        "                     write nothing, create no profile, run no engine\n"
        "  --jobs N           mailboxes processed at the same time (default 4, max 32)\n"
        "  --ews-concurrency N  requests in flight per Exchange account (source, target),\n"
        "                     this run and its engines together (default 27, Exchange's\n"
        "                     default EWSMaxConcurrency; 0 = not limited)\n"
        "  --state-dir DIR    journal, lock and report (default\n"
        "                     $XDG_STATE_HOME/switchresmb, else ~/.local/state/switchresmb)\n"
        "  --restart          start a fresh journal (only when no mailbox is mid-way)\n"
        "  --cpuu PATH        the update engine (default $SWITCHRESMB_CPUU, else cpuu\n"
        "                     beside switchresmb)\n"
        "  --ca-file FILE     extra CA certificates for Exchange (env SWITCHRESMB_CA_FILE)\n"
        "  --mapping-attr A   directory attribute holding the target address, as the\n"
        "                     directory synchronization agent writes it (default\n"
        "                     targetAddress; e.g. extensionAttribute10; env\n"
        "                     SWITCHRESMB_MAPPING_ATTR)\n"
        "  --allow-http       allow http:// Exchange URLs (test labs only; env\n"
        "                     SWITCHRESMB_ALLOW_HTTP=1)\n"
        "  --log-level LEVEL  error, warn, notice (default), info or debug\n"
        "  --mode MODE        encryption mode for DCPassword:\n"
        "                       host (default) any user, this host only; suits several\n"
        "                                      sessions running switchresmb side by side\n"
        "                       user           this user on this host only\n"
        "                       unrestricted   any host: test labs only, never for\n"
        "                                      production or administrative accounts\n"
        "  --target-ad        encrypt into [TargetAD] DCPassword (the target directory,\n"
        "                     ours) instead of [AD] DCPassword\n"
        "  --help, --version\n"
        "\n"
        "Give the password as `-` to type it without echo (or pipe it on stdin): an\n"
        "argument is visible to every local user in ps and /proc/PID/cmdline.\n"
        "\n"
        "Exit status (bits may combine): 0 success, 1 processing failed, 2 wrong\n"
        "command line, 4 incorrect INI parameters (including an unreadable file),\n"
        "8 a temporary profile could not be created, 16 no profile could be created,\n"
        "32 incorrect CPUUCmdLine, 64 the engine could not be started for updating,\n"
        "128 the engine could not be started for cleanup.\n",
        out);
}

typedef struct {
    int check;
    int status;
    const char *cpuu_ini;
    cfg_enc_mode mode;
    int mode_given;
    int target_ad;            /* --target-ad: encrypt into [TargetAD] */
    int run_opts_given;       /* any option that only applies to a run */
    resmb_opts run;
} cli_opts;

static int parse_int(const char *s, int *out, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Returns -1 to continue, else an exit code. */
static int parse_options(int argc, char **argv, cli_opts *o)
{
    static const struct option longopts[] = {
        { "check", no_argument, NULL, 'c' },      { "status", no_argument, NULL, 'T' },
        { "cpuu-ini", required_argument, NULL, 'i' },
        { "log-level", required_argument, NULL, 'l' }, { "mode", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },       { "version", no_argument, NULL, 'V' },
        { "dry-run", no_argument, NULL, 'n' },    { "jobs", required_argument, NULL, 'j' },
        { "state-dir", required_argument, NULL, 's' }, { "restart", no_argument, NULL, 'r' },
        { "cpuu", required_argument, NULL, 'u' }, { "ca-file", required_argument, NULL, 'a' },
        { "mapping-attr", required_argument, NULL, 'M' },
        { "allow-http", no_argument, NULL, 'H' },
        { "target-ad", no_argument, NULL, 'D' },
        { "ews-concurrency", required_argument, NULL, 'E' },
        { NULL, 0, NULL, 0 },
    };
    int c, lvl, m;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->check = 1; break;
        case 'T': o->status = 1; break;
        case 'i': o->cpuu_ini = optarg; break;
        case 'l':
            if ((lvl = sr_log_level_parse(optarg)) < 0) {
                fprintf(stderr, "switchresmb: --log-level: unknown level '%s'\n", optarg);
                return RESMB_EXIT_CMDLINE;
            }
            sr_log_set_level((sr_log_level)lvl);
            break;
        case 'm':
            if ((m = cfg_enc_mode_parse(optarg)) < 0) {
                fprintf(stderr, "switchresmb: --mode: expected user, host or unrestricted, got '%s'\n",
                        optarg);
                return RESMB_EXIT_CMDLINE;
            }
            o->mode = (cfg_enc_mode)m;
            o->mode_given = 1;
            break;
        case 'n': o->run.dry_run = 1; o->run_opts_given = 1; break;
        case 'j':
            if (parse_int(optarg, &o->run.jobs, 1, 32) != 0) {
                fprintf(stderr, "switchresmb: --jobs: expected 1..32, got '%s'\n", optarg);
                return RESMB_EXIT_CMDLINE;
            }
            o->run_opts_given = 1;
            break;
        case 'E':
            if (parse_int(optarg, &o->run.ews_concurrency, 0, MAPI_BUDGET_MAX_SLOTS) != 0) {
                fprintf(stderr, "switchresmb: --ews-concurrency: expected 0..%d, got '%s'\n",
                        MAPI_BUDGET_MAX_SLOTS, optarg);
                return RESMB_EXIT_CMDLINE;
            }
            o->run_opts_given = 1;
            break;
        case 's': o->run.state_dir = optarg; o->run_opts_given = 1; break;
        case 'r': o->run.restart = 1; o->run_opts_given = 1; break;
        case 'u': o->run.cpuu_path = optarg; o->run_opts_given = 1; break;
        case 'a': o->run.ca_file = optarg; o->run_opts_given = 1; break;
        case 'H': o->run.allow_http = 1; o->run_opts_given = 1; break;
        case 'M': o->run.mapping_attr = optarg; o->run_opts_given = 1; break;
        case 'D': o->target_ad = 1; break;
        case 'h': usage(stdout); return RESMB_EXIT_OK;
        case 'V': printf("switchresmb %s\n", RESMB_VERSION); return RESMB_EXIT_OK;
        default:
            fprintf(stderr, "switchresmb: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            fputs("Try 'switchresmb --help'.\n", stderr);
            return RESMB_EXIT_CMDLINE;
        }
    }
    return -1;
}

static void run_opts_from_env(resmb_opts *ro)
{
    const char *h = getenv("SWITCHRESMB_ALLOW_HTTP");
    if (h && strcmp(h, "1") == 0)
        ro->allow_http = 1;
    if (!ro->ca_file && getenv("SWITCHRESMB_CA_FILE") && *getenv("SWITCHRESMB_CA_FILE"))
        ro->ca_file = getenv("SWITCHRESMB_CA_FILE");
    if (!ro->mapping_attr && getenv("SWITCHRESMB_MAPPING_ATTR") &&
        *getenv("SWITCHRESMB_MAPPING_ATTR"))
        ro->mapping_attr = getenv("SWITCHRESMB_MAPPING_ATTR");
}

/* `switchresmb X.ini > log`: the spec tells admins to keep that log, so
 * configuration errors must reach it too, not only stderr — unless stderr
 * is the same file already (2>&1). */
static void tee_log_to_stdout(void)
{
    struct stat so, se;
    if (isatty(STDOUT_FILENO) || fstat(STDOUT_FILENO, &so) != 0)
        return;
    if (fstat(STDERR_FILENO, &se) == 0 && so.st_dev == se.st_dev && so.st_ino == se.st_ino)
        return;
    sr_log_set_tee(stdout);
}

static int run_load(const char *path, const cli_opts *o)
{
    tee_log_to_stdout();
    sr_err err;
    cfg_diag d;
    cfg_resmb *cfg = cfg_resmb_load(path, &d, &err);
    int bits = cfg ? 0 : resmb_exit_for_diag(&d);
    resmb_opts ro = o->run;
    ro.ini_path = path;
    ro.cpuu_ini = o->check ? o->cpuu_ini : NULL;
    run_opts_from_env(&ro);
    if (bits) {
        /* every error was logged above with its file:line */
        fprintf(stderr, "switchresmb: configuration is not valid; exit status %d\n", bits);
        if (o->check)
            printf("%s: not valid; exit status %d\n", path, bits);
    } else if (o->check) {
        bits = resmb_check(cfg, &ro, stdout);
    } else if (o->status) {
        bits = resmb_status(cfg, &ro);
    } else {
        if (ro.allow_http)
            sr_log(SR_LOG_WARN, NULL, "http:// Exchange URLs allowed: credentials may cross the "
                   "network unencrypted (test labs only)");
        sr_log_set_tee(NULL);   /* the run logs to stdout itself */
        bits = resmb_run_all(cfg, &ro);
    }
    cfg_resmb_free(cfg);
    return bits;
}

int main(int argc, char **argv)
{
    cli_opts o = { .mode = CFG_ENC_HOST, .run = { .jobs = 4,
                                                          .ews_concurrency = MAPI_BUDGET_DEFAULT_SLOTS } };
    /* A closed stdout or a directory server gone mid-write must give EPIPE,
     * so the exit status stays the printed bitmask (never 141).  Workers and
     * the engine inherit the setting or set it themselves. */
    signal(SIGPIPE, SIG_IGN);
    sr_log_set_level(SR_LOG_NOTICE);
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    int npos = argc - optind;
    if (npos < 1 || npos > 2) {
        fprintf(stderr, "switchresmb: %s\nTry 'switchresmb --help'.\n",
                npos < 1 ? "missing the SwitchResMB.ini argument" : "too many arguments");
        return RESMB_EXIT_CMDLINE;
    }
    if (npos == 2) {
        if (o.check || o.cpuu_ini || o.run_opts_given) {
            fputs("switchresmb: --check, --cpuu-ini and the run options do not apply when "
                  "encrypting a password\n", stderr);
            return RESMB_EXIT_CMDLINE;
        }
        return resmb_encrypt_command(argv[optind], argv[optind + 1], o.mode, o.target_ad);
    }
    if (o.cpuu_ini && !o.check) {
        fputs("switchresmb: --cpuu-ini only applies with --check (a run uses -INI in "
              "CPUUCmdLine, else CPUU.ini beside SwitchResMB.ini)\n", stderr);
        return RESMB_EXIT_CMDLINE;
    }
    if (o.mode_given || o.target_ad) {
        fprintf(stderr, "switchresmb: %s only applies when encrypting a password\n",
                o.mode_given ? "--mode" : "--target-ad");
        return RESMB_EXIT_CMDLINE;
    }
    return run_load(argv[optind], &o);
}
