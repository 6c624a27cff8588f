# configs/: SwitchResMB.ini and CPUU.ini, stored credentials, CPUUCmdLine.
MODULES += configs
configs_SRCS := configs/ini.c configs/ini_apply.c configs/features.c configs/resmb_ini.c \
    configs/cpuu_ini.c configs/cmdline.c configs/ini_lines.c configs/notify.c configs/secret.c configs/rewrite.c
configs_LDLIBS := -lsodium -lacl

TESTS += test_configs
test_configs_SRCS := tests/unit/test_configs.c
test_configs_USES := configs testutil util
test_configs_LDLIBS := -lcunit

TESTS += test_configs_files
test_configs_files_SRCS := tests/unit/test_configs_files.c
test_configs_files_USES := configs testutil util
test_configs_files_LDLIBS := -lcunit -lacl
