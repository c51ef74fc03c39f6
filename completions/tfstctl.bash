# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for tfstctl.  Options come from "tfstctl COMMAND --help",
# so they never drift from the program; instance names from "tfstctl list"
# (those on the system bus and the configured ones).

_tfstctl_instances()
{
    "${COMP_WORDS[0]}" list --no-legend --output=instance --no-ask-password 2>/dev/null </dev/null
}

_tfstctl_options()
{
    "${COMP_WORDS[0]}" "$@" --help 2>/dev/null </dev/null |
        grep -oE -- '(^|[[:space:]])(-[a-zA-Z]|--[a-z][a-z-]*=?)' | tr -d ' '
}

# The command (and subcommand) on the line so far: the first two words
# that are not options or option values.
_tfstctl_words()
{
    local i w skip=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if ((skip)); then skip=0; continue; fi
        case $w in
            -i|--instance|-o|--output|--state|--direction|--forward|--remote|--interval|\
            --size|--scope|--base|--skip|--count|-c|-n|--lines|--config-dir|--state-dir) skip=1 ;;
            -*) ;;
            *) printf '%s\n' "$w" ;;
        esac
    done
}

_tfstctl()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="list status chain monitor sessions stats dataflow keepalive log-level close
                    reload check cat ports trace spi events collect permissions"
    local -a words
    mapfile -t words < <(_tfstctl_words)

    case $prev in
        -i|--instance)
            mapfile -t COMPREPLY < <(compgen -W "$(_tfstctl_instances)" -- "$cur"); return ;;
        --state)
            mapfile -t COMPREPLY < <(compgen -W "opening open half-closed-client
                half-closed-target closing" -- "$cur"); return ;;
        --direction)
            mapfile -t COMPREPLY < <(compgen -W "upcall downcall" -- "$cur"); return ;;
        --scope)
            mapfile -t COMPREPLY < <(compgen -W "hops sessions" -- "$cur"); return ;;
        --config-dir|--state-dir)
            mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
        -o|--output)
            # collect's archive; the other commands' columns
            [[ ${words[0]} == collect ]] && mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
        --remote|--forward|--interval|--size|--base|--skip|--count|-c|-n|--lines)
            return ;;
    esac
    if [[ $cur == --json=* ]]; then
        mapfile -t COMPREPLY < <(compgen -P "--json=" -W "pretty short off" -- "${cur#--json=}")
        return
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_tfstctl_options "${words[@]:0:2}")" -- "$cur")
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi
    case ${#words[@]}:${words[0]} in
        0:) mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur") ;;
        1:trace) mapfile -t COMPREPLY < <(compgen -W "define list show pause resume delete
                    export" -- "$cur") ;;
        1:spi) mapfile -t COMPREPLY < <(compgen -W "list check conflicts stats" -- "$cur") ;;
        1:keepalive) mapfile -t COMPREPLY < <(compgen -W "show set audit" -- "$cur") ;;
        1:status|1:cat) mapfile -t COMPREPLY < <(compgen -W "$(_tfstctl_instances)" -- "$cur") ;;
        1:log-level) mapfile -t COMPREPLY < <(compgen -W "emerg alert crit err warning notice info
                    debug 0 1 2 3" -- "$cur") ;;
        *:check) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        1:dataflow) mapfile -t COMPREPLY < <(compgen -W "instance" -- "$cur") ;;
        2:trace) [[ ${words[1]} == export ]] && mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    esac
}

complete -F _tfstctl tfstctl
