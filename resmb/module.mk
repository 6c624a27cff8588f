# resmb/: the switchresmb executable: command line front end, the per-mailbox
# workflow (statemachine), the worker pool, the journal and the report.
PROGRAMS += switchresmb
switchresmb_SRCS := resmb/main.c resmb/password.c resmb/summary.c resmb/workflow.c \
                    resmb/actions.c resmb/run.c resmb/setup.c resmb/batch.c resmb/pool.c \
                    resmb/report.c resmb/report_files.c resmb/status.c resmb/progress.c \
                    resmb/graph_check.c resmb/preflight.c resmb/engines.c \
                    resmb/target_batch.c
switchresmb_USES := statemachine cpuu_invoke ldap mapi configs util
switchresmb_LDLIBS := -ljansson
