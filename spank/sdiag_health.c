/*
 * sdiag_health: SPANK plugin adding --health-check=off|quick|full to sbatch, srun and salloc.
 *
 * The chosen level (or the plugin's default) reaches the prolog and epilog as SPANK_SDIAG_HEALTH
 * through spank_job_control_setenv(), set in local (srun) and allocator (sbatch, salloc) context.
 *
 * plugstack.conf:
 *   required /path/to/sdiag_health.so default=quick allow_off=yes
 *     default=off|quick|full   level when the user does not choose (default: quick)
 *     allow_off=yes|no         whether users may choose off (default: yes)
 *
 * A bad value, or off where allow_off=no, makes the submission fail with a message saying why.
 */
#include <stddef.h>
#include <string.h>
#include <slurm/spank.h>

SPANK_PLUGIN(sdiag_health, 1)   /* the macro ends with its own semicolon */

#define OPT_VAL 1

static char default_level[8] = "quick";
static int allow_off = 1;
static char chosen_level[8] = "";

static int valid_level(const char *value)
{
    return value && (!strcmp(value, "off") || !strcmp(value, "quick") || !strcmp(value, "full"));
}

static int health_opt_cb(int val, const char *optarg, int remote);

static struct spank_option health_option = {
    "health-check", "off|quick|full",
    "node health checks before this job: off, quick (fast, default) or full (adds a GPU kernel)",
    1, OPT_VAL, health_opt_cb
};

static int health_opt_cb(int val, const char *optarg, int remote)
{
    (void) val;
    if (!valid_level(optarg)) {
        slurm_error("--health-check: invalid value '%s': use off, quick or full",
                    optarg ? optarg : "");
        return ESPANK_BAD_ARG;
    }
    if (!remote && !allow_off && !strcmp(optarg, "off")) {
        slurm_error("--health-check=off is not allowed on this cluster (allow_off=no in plugstack.conf): "
                    "use quick or full");
        return ESPANK_BAD_ARG;
    }
    strncpy(chosen_level, optarg, sizeof(chosen_level) - 1);
    chosen_level[sizeof(chosen_level) - 1] = '\0';
    return ESPANK_SUCCESS;
}

static int parse_args(int ac, char **av)
{
    int i;
    for (i = 0; i < ac; i++) {
        if (!strncmp(av[i], "default=", 8)) {
            const char *value = av[i] + 8;
            if (!valid_level(value)) {
                slurm_error("sdiag_health: plugstack.conf default=%s is invalid: use off, quick or full",
                            value);
                return ESPANK_BAD_ARG;
            }
            strncpy(default_level, value, sizeof(default_level) - 1);
            default_level[sizeof(default_level) - 1] = '\0';
        } else if (!strcmp(av[i], "allow_off=yes")) {
            allow_off = 1;
        } else if (!strcmp(av[i], "allow_off=no")) {
            allow_off = 0;
        } else {
            slurm_error("sdiag_health: unknown plugstack.conf argument '%s' "
                        "(known: default=off|quick|full allow_off=yes|no)", av[i]);
            return ESPANK_BAD_ARG;
        }
    }
    if (!allow_off && !strcmp(default_level, "off")) {
        slurm_error("sdiag_health: default=off contradicts allow_off=no in plugstack.conf");
        return ESPANK_BAD_ARG;
    }
    return ESPANK_SUCCESS;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
    spank_err_t rc;
    int prc = parse_args(ac, av);
    if (prc != ESPANK_SUCCESS)
        return prc;
    rc = spank_option_register(sp, &health_option);
    if (rc != ESPANK_SUCCESS && spank_context() != S_CTX_SLURMD) {
        slurm_error("sdiag_health: cannot register --health-check: %s", spank_strerror(rc));
        return rc;
    }
    return ESPANK_SUCCESS;
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
    const char *level;
    spank_err_t rc;
    (void) ac;
    (void) av;
    if (spank_context() != S_CTX_LOCAL && spank_context() != S_CTX_ALLOCATOR)
        return ESPANK_SUCCESS;
    level = chosen_level[0] ? chosen_level : default_level;
    rc = spank_job_control_setenv(sp, "SDIAG_HEALTH", level, 1);
    if (rc != ESPANK_SUCCESS) {
        slurm_error("sdiag_health: cannot pass the health-check level to the prolog: %s",
                    spank_strerror(rc));
        return rc;
    }
    return ESPANK_SUCCESS;
}
