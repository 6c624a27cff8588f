# configs/: SwitchResMB.ini and CPUU.ini, stored credentials, CPUUCmdLine.
MODULES += configs
configs_SRCS := configs/ini.c configs/ini_apply.c configs/features.c configs/resmb_ini.c \
    configs/cpuu_ini.c configs/cmdline.c configs/notify.c configs/secret.c configs/rewrite.c
configs_LDLIBS := -lsodium
