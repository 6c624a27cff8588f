/* wizard.h — cpuu-config, the configuration wizard (spec: "Typical Scenario",
 * Step 1): private header of the program.
 *
 * One answers struct (wiz) is filled from defaults, then from --load
 * CPUU.ini, then from long options, then — interactively — from the prompts,
 * which offer the current value as the default.  The same struct is rendered
 * to CPUU.ini and the three scripts, so the interactive and the scripted way
 * write identical files for identical answers.
 *
 * Uses: configs/ (CPUU.ini load/validation, secret encryption, in-place value
 * rewrite), util/, libcurl (the Autodiscover availability check).
 * Ownership: every char* in wiz is owned by it and freed by wiz_free();
 * the *_plain fields are secrets (wiped with sr_secret_free). */
#ifndef SR_WIZARD_H
#define SR_WIZARD_H

#include <stddef.h>
#include <stdio.h>

#include "configs/configs.h"

typedef enum { WIZ_LOGON_CURRENT = 0, WIZ_LOGON_PROMPT, WIZ_LOGON_MANUAL } wiz_logon;
typedef enum { WIZ_FEAT_ALL = 0, WIZ_FEAT_ONLY, WIZ_FEAT_SKIP } wiz_featmode;
typedef enum { WIZ_OFFLINE_NEVER = 0, WIZ_OFFLINE_ALWAYS, WIZ_OFFLINE_KEEP_OST } wiz_offline;
typedef enum { WIZ_BATCH_ALL = 0, WIZ_BATCH_LIST, WIZ_BATCH_DEFAULT } wiz_batch;

typedef struct wiz {
    /* Credentials */
    wiz_logon logon;
    int ask_source_only;              /* AskSourceCredentialsOnly */
    char *admin, *admin_trg;          /* NULL = not set */
    char *password_plain, *password_trg_plain;   /* secrets typed/read now */
    char *password_stored, *password_trg_stored; /* kept from --load */
    cfg_enc_mode enc;
    /* Advanced Tuning */
    char *domains;                    /* ProcessedDomainsFQDNs, space separated */
    char *ad_source, *ad_target;      /* Autodiscover URLs */
    int test_autodiscover;
    /* Features */
    wiz_featmode fmode;
    char *features;                   /* the Features or Skip list */
    char *critical;
    int remove_nicks, remove_junk;
    /* Offline Profiles */
    wiz_offline offline;
    int backup_ost;
    /* Notification */
    int silent;
    char *notify_to;                  /* SMTPAddress list; NULL = no section */
    char *notify_when, *attach, *priority, *notify_profile, *subject, *body;
    char *smtp_server, *smtp_security, *smtp_user, *from;
    char *smtp_password_plain, *smtp_password_stored;
    /* Self Monitoring */
    int watchdog, attempt, open_store_wait, feature_wait, global_wait;
    char *stop_processes;
    /* Files */
    char *out_dir, *ini_name;
    int mk_update, mk_rollback, mk_cleanup;
    /* Batch Processed Profiles */
    wiz_batch batch;
    char **profiles;                  /* NULL-terminated when batch == LIST */
    size_t n_profiles;
    /* Logging */
    char *log;
} wiz;

/* answers.c — defaults, --load, validators (messages name the parameter). */
void wiz_defaults(wiz *w);
sr_code wiz_load(wiz *w, const char *path, sr_err *err);
void wiz_free(wiz *w);
/* Replace *slot with a copy of v ("" or NULL → NULL).  0 ok, -1 OOM. */
int wiz_set(char **slot, const char *v);
int wiz_add_profile(wiz *w, const char *name);
void wiz_free_profiles(wiz *w);
/* A feature list in the spec's order, with the INI spelling (what --load
 * reads back), so typed, scripted and reloaded files agree.  Caller frees. */
char *wiz_features_canonical(const char *list);
/* Validators: SR_OK or SR_E_CONFIG with a message naming `what`. */
sr_code wiz_check_address(const char *what, const char *v, int many, sr_err *err);
sr_code wiz_check_url(const char *what, const char *v, sr_err *err);
sr_code wiz_check_features(const char *what, const char *v, cfg_feature_set allowed, sr_err *err);
sr_code wiz_check_account(const char *what, const char *v, sr_err *err);
sr_code wiz_check_domains(const char *what, const char *v, sr_err *err);
sr_code wiz_check_line(const char *what, const char *v, sr_err *err);
sr_code wiz_check_profile(const char *v, sr_err *err);
sr_code wiz_check_filename(const char *what, const char *v, sr_err *err);
sr_code wiz_check_host_port(const char *what, const char *v, sr_err *err);
/* The whole set of answers (cross-checks: account without password, ...). */
sr_code wiz_check_all(const wiz *w, sr_err *err);

/* write.c — render and write the files. */
/* CPUU.ini text; secrets encrypted (with mask != 0 they are shown as
 * "<encrypted, MODE>" instead, for the summary).  Caller frees. */
char *wiz_render_ini(const wiz *w, int mask, sr_err *err);
/* A script's text; which = "Update" / "Rollback" / "Cleanup".  Caller frees. */
char *wiz_render_script(const wiz *w, const char *which);
/* Print what will be written (secrets masked). */
void wiz_summary(const wiz *w, FILE *out);
/* Write CPUU.ini (0600) and the chosen scripts (0755) into out_dir, after
 * checking the rendered CPUU.ini with cfg_cpuu_load. */
sr_code wiz_write(const wiz *w, sr_err *err);

/* steps.c — the interactive steps, in the spec's order (the Welcome step,
 * new or load, only when `welcome`); 0 = write, 1 = the admin declined at the
 * summary, -1 = input ended / error (err set). */
int wiz_interactive(wiz *w, int welcome, sr_err *err);

/* prompt.c — plain-terminal input (works over SSH; no curses). */
/* One line from stdin without the newline; NULL at end of input. */
char *wiz_read_line(void);
/* A line read with echo off when stdin is a terminal.  Secret: caller frees
 * with sr_secret_free.  NULL at end of input. */
char *wiz_read_secret(const char *prompt);

/* adcheck.c — "Test Autodiscover service availability": does each URL answer
 * HTTP at all (any status; credentials are not checked)?  Prints one line
 * per URL; SR_OK when every given URL answered. */
sr_code wiz_test_autodiscover(const wiz *w, FILE *out, sr_err *err);

#endif
