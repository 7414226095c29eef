// Shell completion scripts: the commands, their flags, and the kinds Tessera serves (a static
// list: completion must work without a server).
#include <string>

#include "cli/commands.h"

namespace tessera::cli {

namespace {

constexpr char kKinds[] =
    "applications bindings cells clusters shardmaps replicas resourcequotas proxies "
    "auditevents apitokens bootstraptokens placementreviews app bind cl mc sm rep quota";
constexpr char kCommands[] = "get describe apply delete logs shardmap proxies completion";
constexpr char kGlobalFlags[] =
    "--kubeconfig --context --server --token --certificate-authority "
    "--insecure-skip-tls-verify --namespace -n --request-timeout --help -h";

std::string bash() {
  std::string s =
      R"SCRIPT(# bash completion for tessctl. Load it with:  source <(tessctl completion bash)
_tessctl() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion || return
  else
    cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  fi
  local kinds="@KINDS@"
  local commands="@COMMANDS@"
  local global="@GLOBAL@"
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "table wide json yaml name" -- "$cur")); return ;;
    -f|--filename|--kubeconfig|--certificate-authority) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  local cmd="" sub="" i
  for ((i = 1; i < cword; i++)); do
    case "${words[i]}" in
      -*) ;;
      *) if [[ -z "$cmd" ]]; then cmd="${words[i]}"; elif [[ -z "$sub" ]]; then sub="${words[i]}"; fi ;;
    esac
  done
  local flags="$global"
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "$commands $global" -- "$cur")); return ;;
    get) flags+=" -A --all-namespaces -l --selector --field-selector -o --output -w --watch --watch-timeout --no-headers"
         [[ -z "$sub" && "$cur" != -* ]] && { COMPREPLY=($(compgen -W "$kinds" -- "$cur")); return; } ;;
    describe|delete) [[ "$cmd" == delete ]] && flags+=" --ignore-not-found"
         [[ -z "$sub" && "$cur" != -* ]] && { COMPREPLY=($(compgen -W "$kinds" -- "$cur")); return; } ;;
    apply) flags+=" -f --filename --dry-run" ;;
    logs) flags+=" --tail" ;;
    shardmap) [[ -z "$sub" ]] && { COMPREPLY=($(compgen -W "show move" -- "$cur")); return; }
         [[ "$sub" == move ]] && flags+=" --to --name --reason --dry-run --wait --timeout"
         [[ "$sub" == show ]] && flags+=" -o --output" ;;
    proxies) [[ -z "$sub" ]] && { COMPREPLY=($(compgen -W "status" -- "$cur")); return; }
         flags+=" -o --output" ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -F _tessctl tessctl
)SCRIPT";
  return s;
}

std::string zsh() {
  return R"SCRIPT(#compdef tessctl
# zsh completion for tessctl. Load it with:  source <(tessctl completion zsh)
# (or save it as _tessctl in a folder of $fpath).
_tessctl() {
  local -a commands kinds global
  commands=(
    'get:list objects or show some, as a table, JSON or YAML'
    'describe:one object, readable, with conditions and placement'
    'apply:create or update objects from YAML or JSON'
    'delete:delete objects'
    'logs:the recent log of a replica'
    'shardmap:show the ShardMap or move buckets between cells'
    'proxies:the mesh proxies and what they acknowledged'
    'completion:print a shell completion script'
  )
  kinds=(@KINDS@)
  global=(
    '--kubeconfig[kubeconfig file]:file:_files'
    '--context[kubeconfig context]:context:'
    '--server[API server URL]:url:'
    '--token[bearer token]:token:'
    '--certificate-authority[CA file]:file:_files'
    '--insecure-skip-tls-verify[do not verify the server certificate]'
    '(-n --namespace)'{-n,--namespace}'[namespace]:namespace:'
    '--request-timeout[per-request timeout]:duration:'
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'tessctl command' commands
    return
  fi
  case "${words[2]}" in
    get)
      _arguments -C $global '(-A --all-namespaces)'{-A,--all-namespaces}'[all namespaces]' \
        '(-l --selector)'{-l,--selector}'[label selector]:selector:' \
        '--field-selector[field selector]:selector:' \
        '(-o --output)'{-o,--output}'[output]:format:(table wide json yaml name)' \
        '(-w --watch)'{-w,--watch}'[watch]' '--watch-timeout[end the watch after]:duration:' \
        '--no-headers[no header line]' "2:kind:(${kinds[*]})" '*:name:' ;;
    describe) _arguments $global "2:kind:(${kinds[*]})" '3:name:' ;;
    delete)
      _arguments $global '--ignore-not-found[no error for missing objects]' \
        "2:kind:(${kinds[*]})" '*:name:' ;;
    apply)
      _arguments $global '(-f --filename)'{-f,--filename}'[file or -]:file:_files' \
        '--dry-run[validate only]' ;;
    logs) _arguments $global '--tail[lines]:lines:' '2:replica:' ;;
    shardmap)
      if (( CURRENT == 3 )); then _values 'shardmap command' show move; return; fi
      _arguments $global '--to[target cell]:cell:' '--name[ShardMap name]:name:' \
        '--reason[why]:reason:' '--dry-run[validate, change nothing]' \
        '--wait[until every reachable proxy acked]' '--timeout[for --wait]:duration:' \
        '(-o --output)'{-o,--output}'[output]:format:(table json yaml)' '*:arg:' ;;
    proxies)
      if (( CURRENT == 3 )); then _values 'proxies command' status; return; fi
      _arguments $global '(-o --output)'{-o,--output}'[output]:format:(table json yaml)' ;;
    completion) _values shell bash zsh ;;
  esac
}
if [ "$funcstack[1]" = "_tessctl" ]; then
  _tessctl "$@"
else
  compdef _tessctl tessctl
fi
)SCRIPT";
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

}  // namespace

std::string completionScript(const std::string& shell) {
  std::string s;
  if (shell == "bash") {
    s = bash();
  } else if (shell == "zsh") {
    s = zsh();
  } else {
    return "";
  }
  replaceAll(s, "@KINDS@", kKinds);
  replaceAll(s, "@COMMANDS@", kCommands);
  replaceAll(s, "@GLOBAL@", kGlobalFlags);
  return s;
}

}  // namespace tessera::cli
