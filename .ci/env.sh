# Sourced by the scripts in .ci/: one cargo target directory outside the clone, so CI runs and
# later clones reuse each other's builds.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/keystile/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Incremental artefacts only help rebuilds of the same checkout; CI clones never reuse them.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
