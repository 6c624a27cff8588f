/* main.c — cpuu: the command line (spec "CPUU Parameters": management
 * parameters, and configuration parameters that override CPUU.ini), then the
 * engine.  Exit status = the spec's exit bitmask & 0xff; the full mask goes
 * to the progress channel ("exit <bits>"). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuu/engine.h"

void cpuu_usage(FILE *fp)
{
    fputs("usage: cpuu [-INI file] [-Log file] [mode] [options]\n"
          "modes (default: update every profile):\n"
          "  -Profiles <name> [name ...]   update (or, with -Cleanup, clean) these profiles only\n"
          "  -DefaultProfile               update the default profile\n"
          "  -Undo <name> [name ...]       roll back these profiles\n"
          "  -UndoAll                      roll back every profile that has a backup\n"
          "  -UndoDefaultProfile           roll back the default profile\n"
          "  -Cleanup                      delete backups of successfully updated profiles\n"
          "options:\n"
          "  -LeaveTemporaryProfile  -SkipAutodiscoverChecking  -DoNotModifyExcludeSCPLookup\n"
          "  -NameTrgStoreAsSrc  -DisableLogonThroughOutlook  -DryRun\n"
          "  -MoveDumpsToRemote  -MaxLocalDumps <n>  -LogWriteDirectly  (accepted; no effect on Linux)\n"
          "CPUU.ini overrides:\n"
          "  -Features <f...>  -Skip <f...>  -Critical <f...>  -Remove Nicks\n"
          "  -Silent [0|1]  -ProcessOfflineProfiles [0|1]  -KeepOST [0|1]\n"
          "  -AutodiscoverSourceURL <url>  -AutodiscoverTargetURL <url>\n"
          "  -ProcessedDomainsFQDNs <domain...>\n"
          "  -?                            this help\n"
          "Exit status: the spec's CPUU exit bitmask (docs/cpuu.md).\n", fp);
}

/* Values after a list parameter: every following word not starting with '-'. */
static sr_code take_list(int argc, char **argv, int *i, const char ***out, sr_err *err)
{
    int first = *i + 1, n = 0;
    while (first + n < argc && argv[first + n][0] != '-')
        n++;
    free(*out);
    *out = calloc((size_t)n + 1, sizeof **out);
    if (!*out)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (int k = 0; k < n; k++)
        (*out)[k] = argv[first + k];
    *i += n;
    return SR_OK;
}

static sr_code take_features(int argc, char **argv, int *i, cfg_feature_set *set, sr_err *err)
{
    const char *name = argv[*i];
    *set = 0;
    for (; *i + 1 < argc && argv[*i + 1][0] != '-'; (*i)++) {
        const char *v = argv[*i + 1];
        if (sr_streq_ci(v, "All") && sr_streq_ci(name, "-Skip")) {
            *set = CFG_FSET_PROCESSABLE;
            continue;
        }
        int f = cfg_feature_parse(v);
        if (f < 0)
            return sr_err_set(err, SR_E_USAGE, "%s: unknown feature '%s'", name, v);
        if (f == CFG_F_ACTIVITIES && !sr_streq_ci(name, "-Critical"))
            return sr_err_set(err, SR_E_USAGE, "%s: Activities is only valid with -Critical", name);
        /* as for CPUU.ini (configs' check_built): asking for a feature this
         * engine lacks would fail every profile late; -Skip of one is harmless */
        if (!sr_streq_ci(name, "-Skip") && cfg_first_unbuilt(CFG_FSET(f)) >= 0)
            return sr_err_set(err, SR_E_USAGE, "%s: %s is not built in this engine", name, v);
        *set |= CFG_FSET(f);
    }
    return SR_OK;
}

/* Optional 0/1/On/Off after a switch; absent → 1. */
static sr_code take_bool(int argc, char **argv, int *i, int *out, sr_err *err)
{
    *out = 1;
    if (*i + 1 >= argc || argv[*i + 1][0] == '-')
        return SR_OK;
    const char *v = argv[++*i];
    if (!strcmp(v, "1") || sr_streq_ci(v, "On"))
        *out = 1;
    else if (!strcmp(v, "0") || sr_streq_ci(v, "Off"))
        *out = 0;
    else
        return sr_err_set(err, SR_E_USAGE, "%s: expected 0, 1, On or Off, got '%s'", argv[*i - 1], v);
    return SR_OK;
}

static sr_code take_value(int argc, char **argv, int *i, const char **out, sr_err *err)
{
    if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1]))
        return sr_err_set(err, SR_E_USAGE, "%s: needs a value", argv[*i]);
    *out = argv[++*i];
    return SR_OK;
}

typedef enum { A_FLAG, A_LIST, A_VALUE, A_FEATURES, A_BOOL, A_INT } arg_kind;
typedef struct arg_def {
    const char *name;
    arg_kind kind;
    size_t off;               /* offsetof(cpuu_opts, field) */
    size_t given_off;         /* A_FEATURES: the *_given flag; else 0 */
} arg_def;

#define O(f) offsetof(cpuu_opts, f)
static const arg_def args[] = {
    { "INI", A_VALUE, O(ini), 0 },
    { "Log", A_VALUE, O(log), 0 },
    { "Profiles", A_LIST, O(profiles), 0 },
    { "DefaultProfile", A_FLAG, O(default_profile), 0 },
    { "Undo", A_LIST, O(undo), 0 },
    { "UndoAll", A_FLAG, O(undo_all), 0 },
    { "UndoDefaultProfile", A_FLAG, O(undo_default_profile), 0 },
    { "Cleanup", A_FLAG, O(cleanup), 0 },
    { "LeaveTemporaryProfile", A_FLAG, O(leave_temporary_profile), 0 },
    { "SkipAutodiscoverChecking", A_FLAG, O(skip_autodiscover_checking), 0 },
    { "DoNotModifyExcludeSCPLookup", A_FLAG, O(do_not_modify_exclude_scp), 0 },
    { "NameTrgStoreAsSrc", A_FLAG, O(name_trg_store_as_src), 0 },
    { "DisableLogonThroughOutlook", A_FLAG, O(disable_logon_through_outlook), 0 },
    { "MoveDumpsToRemote", A_FLAG, O(move_dumps_to_remote), 0 },
    { "LogWriteDirectly", A_FLAG, O(log_write_directly), 0 },
    { "MaxLocalDumps", A_INT, O(max_local_dumps), 0 },
    { "DryRun", A_FLAG, O(dry_run), 0 },
    { "Features", A_FEATURES, O(features), O(features_given) },
    { "Skip", A_FEATURES, O(skip), O(skip_given) },
    { "Critical", A_FEATURES, O(critical), O(critical_given) },
    { "Remove", A_FEATURES, O(remove), O(remove_given) },
    { "Silent", A_BOOL, O(silent), 0 },
    { "ProcessOfflineProfiles", A_BOOL, O(process_offline_profiles), 0 },
    { "KeepOST", A_BOOL, O(keep_ost), 0 },
    { "AutodiscoverSourceURL", A_VALUE, O(autodiscover_source_url), 0 },
    { "AutodiscoverTargetURL", A_VALUE, O(autodiscover_target_url), 0 },
    { "ProcessedDomainsFQDNs", A_LIST, O(processed_domains), 0 },
};
#undef O

static sr_code take(const arg_def *d, int argc, char **argv, int *i, cpuu_opts *o, sr_err *err)
{
    char *base = (char *)o;
    switch (d->kind) {
    case A_FLAG:
        *(int *)(base + d->off) = 1;
        return SR_OK;
    case A_LIST:
        return take_list(argc, argv, i, (const char ***)(base + d->off), err);
    case A_VALUE:
        return take_value(argc, argv, i, (const char **)(base + d->off), err);
    case A_FEATURES:
        *(int *)(base + d->given_off) = 1;
        return take_features(argc, argv, i, (cfg_feature_set *)(base + d->off), err);
    case A_BOOL:
        return take_bool(argc, argv, i, (int *)(base + d->off), err);
    case A_INT: {
        const char *v;
        if (take_value(argc, argv, i, &v, err) != SR_OK)
            return err->code;
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 0 || n > 100000)
            return sr_err_set(err, SR_E_USAGE, "%s: expected a number, got '%s'", d->name, v);
        *(int *)(base + d->off) = (int)n;
        return SR_OK;
    }
    }
    return SR_E_INTERNAL;
}

static sr_code check_combination(const cpuu_opts *o, sr_err *err)
{
    int modes = (o->undo != NULL) + o->undo_all + o->undo_default_profile + o->cleanup;
    if (modes > 1)
        return sr_err_set(err, SR_E_USAGE,
                          "-Undo, -UndoAll, -UndoDefaultProfile and -Cleanup exclude each other");
    if (modes && o->default_profile)
        return sr_err_set(err, SR_E_USAGE, "-DefaultProfile is for update mode only");
    if (o->profiles && !o->profiles[0])
        return sr_err_set(err, SR_E_USAGE, "-Profiles: needs at least one profile name");
    if (o->undo && !o->undo[0])
        return sr_err_set(err, SR_E_USAGE, "-Undo: needs at least one profile name");
    if (modes && o->profiles && !o->cleanup)
        return sr_err_set(err, SR_E_USAGE, "-Profiles cannot be combined with a rollback mode "
                                           "(name the profiles after -Undo)");
    if (o->features_given && o->skip_given)
        return sr_err_set(err, SR_E_USAGE, "-Features cannot be used together with -Skip");
    if (o->remove_given && (o->remove & ~CFG_FSET(CFG_F_NICKS)))
        return sr_err_set(err, SR_E_USAGE, "-Remove: only Nicks can be removed");
    return SR_OK;
}

sr_code cpuu_opts_parse(int argc, char **argv, cpuu_opts *o, sr_err *err)
{
    memset(o, 0, sizeof *o);
    o->silent = o->process_offline_profiles = o->keep_ost = -1;
    o->max_local_dumps = CFG_DEFAULT_MAX_LOCAL_DUMPS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1])
            return sr_err_set(err, SR_E_USAGE, "unexpected argument '%s' (parameters start with '-')", a);
        if (!strcmp(a, "-?") || sr_streq_ci(a, "-help") || sr_streq_ci(a, "--help")) {
            o->help = 1;
            continue;
        }
        const arg_def *d = NULL;
        for (size_t k = 0; k < sizeof args / sizeof args[0] && !d; k++)
            if (sr_streq_ci(a + 1, args[k].name))
                d = &args[k];
        if (!d)
            return sr_err_set(err, SR_E_USAGE, "unknown parameter '%s' (cpuu -? lists them)", a);
        if (take(d, argc, argv, &i, o, err) != SR_OK)
            return err->code;
    }
    return check_combination(o, err);
}

void cpuu_opts_clear(cpuu_opts *o)
{
    free(o->profiles);
    free(o->undo);
    free(o->processed_domains);
    memset(o, 0, sizeof *o);
}

int cpuu_watchdog_run(int argc, char **argv, unsigned *bits);   /* watchdog.c */

/* With $CPUU_COMMAND_FD (switchresmb, cpuu_invoke.h) an update of named
 * profiles is followed by commands on that pipe, one line each, read after
 * the update's "exit <bits>"; each is answered by its own "exit <bits>":
 *   update <profile>\t<log>\t<target Autodiscover line>
 *   cleanup <profile>\t<log>
 *   cleanup [<log>]          (the profiles of our argv)
 *   switchmsg <how>\t<mailbox>\t...   (cpuu_switchmsg_command: a switch
 *                            message written over our source connections)
 * An empty <log> means the -Log of our argv.  Everything else about a run
 * (CPUU.ini, features, -DryRun, the directories) is our argv and environment,
 * the same for every mailbox of a switchresmb run; what differs per mailbox
 * is in the command and is set afresh for each one, so nothing of one
 * mailbox reaches the next (docs/cpuu.md, "One engine for many mailboxes").
 * One process serving many mailboxes saves the process start (~18 M
 * instructions) and the connections (cpuu_process).  EOF, "quit" or
 * anything else ends the process; the parent bounds every wait. */
static int run_command(const cpuu_opts *base, cpuu_process *proc, char *cmd, unsigned *bits)
{
    if (!strncmp(cmd, "switchmsg ", 10)) {   /* answered on its own; the update's bits stay */
        cpuu_progress("exit %u", cpuu_switchmsg_command(base, proc, cmd + 10));
        return 1;
    }
    int cleanup = !strncmp(cmd, "cleanup", 7) && (!cmd[7] || cmd[7] == ' ');
    int update = !strncmp(cmd, "update ", 7);
    if (!cleanup && !update)
        return 0;
    char *profile = update ? cmd + 7 : cmd[7] ? cmd + 8 : NULL, *log = NULL, *target_ad = NULL;
    char *tab = profile ? strchr(profile, '\t') : NULL;
    if (tab) {
        *tab = '\0';
        log = tab + 1;
        if ((tab = strchr(log, '\t')) != NULL) {
            *tab = '\0';
            target_ad = tab + 1;   /* itself tab-separated: the rest of the line */
        }
    } else if (cleanup) {          /* "cleanup [<log>]": our argv's profiles */
        log = profile;
        profile = NULL;
    }
    if (update && (!profile || !*profile))
        return 0;
    const char *one[2] = { profile, NULL };
    cpuu_opts c = *base;   /* shares the lists: not cleared here */
    c.cleanup = cleanup;
    c.default_profile = 0;
    if (profile && *profile)
        c.profiles = one;
    if (log && *log)
        c.log = log;
    /* the target's Autodiscover answer is this mailbox's, or none */
    if (target_ad && *target_ad)
        setenv("CPUU_TARGET_AUTODISCOVER", target_ad, 1);
    else
        unsetenv("CPUU_TARGET_AUTODISCOVER");
    *bits = cpuu_run(&c, proc);
    cpuu_progress("exit %u", *bits);
    return 1;
}

static unsigned serve_commands(const cpuu_opts *o, cpuu_process *proc, unsigned bits)
{
    int fd = cpuu_command_fd();
    if (fd < 0)
        return bits;
    /* a user's abort ends here, as it ended the update: the parent then
     * starts a fresh cleanup exactly as it would have without this pipe */
    char *cmd = NULL;
    if (cpuu_opts_mode(o) == CPUU_MODE_UPDATE && o->profiles)
        while (!cpuu_aborted() && (cmd = cpuu_command_read(fd)) != NULL &&
               run_command(o, proc, cmd, &bits)) {
            free(cmd);
            cmd = NULL;
        }
    free(cmd);
    close(fd);
    return bits;
}

int main(int argc, char **argv)
{
    cpuu_opts o;
    sr_err err;
    unsigned watched;
    if (cpuu_watchdog_run(argc, argv, &watched))
        return (int)(watched & 0xffu);
    cpuu_abort_init();
    cpuu_progress_init();
    mapi_budget_attach_env();   /* switchresmb's per-account budget, when it started us */
    if (cpuu_opts_parse(argc, argv, &o, &err) != SR_OK) {
        fprintf(stderr, "cpuu: %s\n", err.msg);
        fputs("cpuu: run 'cpuu -?' for the parameters; exit bits 16 (CPUU_GLOBAL_ERR)\n", stderr);
        cpuu_opts_clear(&o);
        cpuu_progress("exit %u", (unsigned)CPUU_GLOBAL_ERR);
        return CPUU_GLOBAL_ERR;
    }
    if (o.help) {
        cpuu_usage(stdout);
        cpuu_opts_clear(&o);
        cpuu_progress("exit 0");
        return 0;
    }
    /* a process that may serve further mailboxes keeps its connections */
    cpuu_process proc = { 0 };
    if (cpuu_command_fd() >= 0)
        for (int side = 0; side < 2; side++)   /* NULL: each run opens its own */
            proc.conns[side] = mapi_conns_new(&err);
    unsigned bits = cpuu_run(&o, &proc);
    cpuu_progress("exit %u", bits);
    bits = serve_commands(&o, &proc, bits);
    cpuu_opts_clear(&o);
    cpuu_dir_free(&proc.src_dir);
    cpuu_dir_free(&proc.tgt_dir);
    mapi_conns_free(proc.conns[0]);
    mapi_conns_free(proc.conns[1]);
    sr_secret_free(proc.secret);
    return (int)(bits & 0xffu);
}
