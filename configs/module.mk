# configs/: SwitchResMB.ini and CPUU.ini, stored credentials, CPUUCmdLine.
MODULES += configs
configs_SRCS := configs/ini.c configs/ini_apply.c configs/features.c configs/resmb_ini.c \
    configs/cpuu_ini.c configs/cmdline.c configs/ini_lines.c configs/notify.c configs/secret.c \
    configs/rewrite.c
configs_LDLIBS := -lsodium -lacl

# configs/wizard/: cpuu-config, the configuration wizard (writes CPUU.ini and
# the CPUU_Update/Rollback/Cleanup.sh scripts).
PROGRAMS += cpuu-config
cpuu-config_SRCS := $(sort $(wildcard configs/wizard/*.c))
cpuu-config_USES := configs util
cpuu-config_LDLIBS := -lcurl
