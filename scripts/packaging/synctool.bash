# bash completion for synctool (installed as /usr/share/bash-completion/completions/synctool).
# The commands and options are read from `synctool --help` and `synctool COMMAND --help` at each
# completion, so they are always those of the installed binary; sync names are the *.toml files
# in the project's syncs folder (syncs_dir of ./synctool.toml, default syncs).

_synctool_help_section() {
  # $1: the section's title ("Subcommands", "Options"); the rest: the command's words.
  local section=$1
  shift
  "${_synctool_bin}" "$@" --help 2>/dev/null | awk -v want="$section:" '
    /^[A-Za-z][A-Za-z ]*:$/ { in_section = ($0 == want); next }
    in_section && /^  [^ ]/ { print $1 }'
}

_synctool_syncs() {
  local dir=syncs config=synctool.toml line
  local i
  for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
    [[ ${COMP_WORDS[i]} == --config ]] && config=${COMP_WORDS[i + 1]}
  done
  if [[ -r $config ]]; then
    line=$(sed -n 's/^[[:space:]]*syncs_dir[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$config" | head -n 1)
    [[ -n $line ]] && dir=$line
    dir="$(dirname -- "$config")/$dir"
  fi
  local f
  for f in "$dir"/*.toml; do
    [[ -e $f ]] || continue
    f=${f##*/}
    [[ $f == synctool.toml ]] || printf '%s\n' "${f%.toml}"
  done
}

_synctool() {
  local cur prev
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  _synctool_bin=${COMP_WORDS[0]}

  case $prev in
    --config | --metrics-file)
      COMPREPLY=($(compgen -f -- "$cur"))
      return
      ;;
    --dir)
      COMPREPLY=($(compgen -d -- "$cur"))
      return
      ;;
  esac

  # The command words typed so far (skipping options and --config's value).
  local words=() i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case $w in
      --config | --metrics-file | --dir | -n | --limit | --take | --set | --reason | --format) ((i++)) ;;
      -*) ;;
      *) words+=("$w") ;;
    esac
  done

  # The deepest command typed: each word that is a subcommand of the previous one.
  local path=() candidates
  for w in "${words[@]}"; do
    candidates=$(_synctool_help_section Subcommands "${path[@]}")
    if grep -qxF -- "$w" <<<"$candidates"; then path+=("$w"); else break; fi
  done

  if [[ $cur == -* ]]; then
    local options
    options=$(_synctool_help_section Options "${path[@]}" | tr ',' '\n')
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
    return
  fi

  local reply
  reply=$(_synctool_help_section Subcommands "${path[@]}")
  if [[ ${path[0]:-} == init ]]; then
    # The connection types, as `synctool init --help` lists them.
    reply+=" "$("${_synctool_bin}" init --help 2>/dev/null | sed -n "s/.*destination's type: //p" | tr -d ',')
  elif ((${#path[@]})) && [[ -n $(_synctool_help_section Positionals "${path[@]}") ]]; then
    reply+=" "$(_synctool_syncs)
  fi
  COMPREPLY=($(compgen -W "$reply" -- "$cur"))
}

complete -F _synctool synctool
