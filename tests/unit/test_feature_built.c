/* test_feature_built.c — configs' CFG_FSET_BUILT (what switchresmb --check
 * and CPUU.ini loading accept in Features/Critical) equals the engine's own
 * feature table (cpuu/features.c).  resmb must not link cpuu, so configs
 * keeps the list; this test is what keeps the two from drifting apart. */
#include "configs/configs.h"
#include "cpuu/feature.h"

#include <CUnit/Basic.h>

static void test_built_equals_table(void)
{
    cfg_feature_set table = 0;
    for (size_t i = 0; cpuu_features[i]; i++)
        table |= CFG_FSET(cpuu_features[i]->id);
    CU_ASSERT_EQUAL(table, CFG_FSET_BUILT);
    for (int f = 0; f < CFG_F__MAX; f++) {
        int built = (CFG_FSET_BUILT & CFG_FSET(f)) != 0;
        CU_ASSERT_EQUAL(built, cpuu_feature_ops((cfg_feature)f) != NULL);
        CU_ASSERT_EQUAL(cfg_first_unbuilt(CFG_FSET(f)) < 0, built || f == CFG_F_ACTIVITIES);
    }
    CU_ASSERT_EQUAL(cfg_first_unbuilt(CFG_FSET(CFG_F_RULES) | CFG_FSET(CFG_F_CONTAB)),
                    CFG_F_CONTAB);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("feature_built", NULL, NULL);
    CU_add_test(s, "CFG_FSET_BUILT equals cpuu's feature table", test_built_equals_table);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
