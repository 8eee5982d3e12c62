/* One Check runner for every unit suite; prints Check's summary line. */
#include <check.h>
#include <stdlib.h>

#include "check_suites.h"

int main(void)
{
    SRunner *sr = srunner_create(util_suite());
    srunner_add_suite(sr, msg_suite());
    srunner_add_suite(sr, cf_suite());
    srunner_add_suite(sr, rules_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
