package main

import (
	"fmt"
	"io"
)

// runCompletion prints the completion script of a shell: commands,
// subcommands and the flags of each. Load it with
//
//	source <(pihu completion bash)      # in ~/.bashrc
//	source <(pihu completion zsh)       # in ~/.zshrc
//	pihu completion fish | source       # in ~/.config/fish/config.fish
func runCompletion(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{"usage: pihu completion bash|zsh|fish"}
	}
	var script string
	switch args[0] {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		script = fishCompletion
	case "-h", "-help", "--help":
		fmt.Fprintln(stdout, "usage: pihu completion bash|zsh|fish\n\nPrints a completion script: source <(pihu completion bash), source <(pihu completion zsh), or pihu completion fish | source.")
		return nil
	default:
		return usageError{fmt.Sprintf("completion: unknown shell %q; use bash, zsh or fish", args[0])}
	}
	_, err := io.WriteString(stdout, script)
	return err
}

// The words each shell completes, kept in one place in each script. A test
// checks that every command and flag of pihu's help is in every script.

const bashCompletion = `# bash completion for pihu: source <(pihu completion bash)
_pihu() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local cmd=${COMP_WORDS[1]} sub=${COMP_WORDS[2]}
    local words=""
    if [[ $COMP_CWORD -eq 1 ]]; then
        words="serve accounts keys permissions roles identities signing-keys migrate scan completion version help"
    elif [[ $COMP_CWORD -eq 2 && $cur != -* ]]; then
        case $cmd in
            accounts) words="create list recover sign-in members help" ;;
            keys) words="list create get update revoke rotate disable enable requests help" ;;
            permissions) words="list add delete help" ;;
            roles) words="list get create update delete help" ;;
            identities) words="list show create update delete help" ;;
            signing-keys) words="list rotate help" ;;
            completion) words="bash zsh fish" ;;
        esac
    fi
    if [[ -z $words ]]; then
        case "$cmd $sub" in
            serve\ *) words="--addr --database --redis --exact-limits --exact-credits --credit-lease-ttl --rate-limit --failed-auth-limit --issuer --log-format --trusted-proxy-header --trusted-proxies --cors-origins --gateway-routes --ext-authz-addr --github-keys-url --github-keys-file --tls-cert --tls-key --metrics-addr --drain-delay --drain-timeout --access-log --pprof --key-cache-size --webhooks --webhook-retry --webhook-loopback --dashboard-origin --sso-providers --key-cache-ttl --stale-if-error --database-timeout --require-database-at-start --request-log-retention --request-log-max --request-log-rate --request-log-burst --help" ;;
            "accounts create") words="--name --database --json --help" ;;
            accounts\ *) words="--database --json --help" ;;
            "keys requests") words="--refused --status --code --since --until --limit --starting-after --api-url --json --help" ;;
            "keys list") words="--limit --starting-after --ending-before --enabled --name-prefix --role --permission --metadata --identity --api-url --json --help" ;;
            "keys create") words="--name --permission --role --expiration --environment --rate-limit --ratelimit --allowed-ip --identity --api-url --json --help" ;;
            "keys update") words="--name --rate-limit --ratelimit --api-url --json --help" ;;
            "keys revoke") words="--cascade --api-url --json --help" ;;
            "keys rotate") words="--expire-old-in --api-url --json --help" ;;
            keys\ *) words="--api-url --json --help" ;;
            "permissions add") words="--description --server --database --api-url --json --help" ;;
            "permissions delete") words="--force --server --database --api-url --json --help" ;;
            permissions\ *) words="--server --database --api-url --json --help" ;;
            "roles list") words="--limit --starting-after --ending-before --api-url --json --help" ;;
            "roles create") words="--name --description --permission --api-url --json --help" ;;
            "roles update") words="--name --description --permission --api-url --json --help" ;;
            "roles delete") words="--force --api-url --json --help" ;;
            roles\ *) words="--api-url --json --help" ;;
            "identities list") words="--external-id --limit --starting-after --ending-before --api-url --json --help" ;;
            "identities create") words="--external-id --metadata --rate-limit --ratelimit --credits --refill --api-url --json --help" ;;
            "identities update") words="--external-id --metadata --rate-limit --ratelimit --credits --add-credits --refill --api-url --json --help" ;;
            "identities delete") words="--revoke-keys --api-url --json --help" ;;
            identities\ *) words="--api-url --json --help" ;;
            signing-keys\ *) words="--database --json --help" ;;
            migrate\ *) words="--database --help" ;;
            scan\ *) words="--revoke --json --format --allow-skipped --progress --api-url --help" ;;
            version\ *) words="--json --help" ;;
        esac
    fi
    if [[ $cmd == scan && $cur != -* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _pihu pihu
`

const zshCompletion = `#compdef pihu
# zsh completion for pihu: source <(pihu completion zsh)
_pihu() {
    local -a cands
    if (( CURRENT == 2 )); then
        cands=(serve accounts keys permissions roles identities signing-keys migrate scan completion version help)
    elif (( CURRENT == 3 )) && [[ ${words[CURRENT]} != -* ]]; then
        case ${words[2]} in
            accounts) cands=(create list recover sign-in members help) ;;
            keys) cands=(list create get update revoke rotate disable enable requests help) ;;
            permissions) cands=(list add delete help) ;;
            roles) cands=(list get create update delete help) ;;
            identities) cands=(list show create update delete help) ;;
            signing-keys) cands=(list rotate help) ;;
            completion) cands=(bash zsh fish) ;;
        esac
    fi
    case "${words[2]} ${words[3]}" in
        serve\ *) cands+=(--addr --database --redis --exact-limits --exact-credits --credit-lease-ttl --rate-limit --failed-auth-limit --issuer --log-format --trusted-proxy-header --trusted-proxies --cors-origins --gateway-routes --ext-authz-addr --github-keys-url --github-keys-file --tls-cert --tls-key --metrics-addr --drain-delay --drain-timeout --access-log --pprof --key-cache-size --webhooks --webhook-retry --webhook-loopback --dashboard-origin --sso-providers --key-cache-ttl --stale-if-error --database-timeout --require-database-at-start --request-log-retention --request-log-max --request-log-rate --request-log-burst --help) ;;
        "accounts create") cands+=(--name --database --json --help) ;;
        accounts\ *) cands+=(--database --json --help) ;;
        "keys requests") cands+=(--refused --status --code --since --until --limit --starting-after --api-url --json --help) ;;
        "keys list") cands+=(--limit --starting-after --ending-before --enabled --name-prefix --role --permission --metadata --identity --api-url --json --help) ;;
        "keys create") cands+=(--name --permission --role --expiration --environment --rate-limit --ratelimit --allowed-ip --identity --api-url --json --help) ;;
        "keys update") cands+=(--name --rate-limit --ratelimit --api-url --json --help) ;;
        "keys revoke") cands+=(--cascade --api-url --json --help) ;;
        "keys rotate") cands+=(--expire-old-in --api-url --json --help) ;;
        keys\ *) cands+=(--api-url --json --help) ;;
        "permissions add") cands+=(--description --server --database --api-url --json --help) ;;
        "permissions delete") cands+=(--force --server --database --api-url --json --help) ;;
        permissions\ *) cands+=(--server --database --api-url --json --help) ;;
        "roles list") cands+=(--limit --starting-after --ending-before --api-url --json --help) ;;
        "roles create") cands+=(--name --description --permission --api-url --json --help) ;;
        "roles update") cands+=(--name --description --permission --api-url --json --help) ;;
        "roles delete") cands+=(--force --api-url --json --help) ;;
        roles\ *) cands+=(--api-url --json --help) ;;
        "identities list") cands+=(--external-id --limit --starting-after --ending-before --api-url --json --help) ;;
        "identities create") cands+=(--external-id --metadata --rate-limit --ratelimit --credits --refill --api-url --json --help) ;;
        "identities update") cands+=(--external-id --metadata --rate-limit --ratelimit --credits --add-credits --refill --api-url --json --help) ;;
        "identities delete") cands+=(--revoke-keys --api-url --json --help) ;;
        identities\ *) cands+=(--api-url --json --help) ;;
        signing-keys\ *) cands+=(--database --json --help) ;;
        migrate\ *) cands+=(--database --help) ;;
        scan\ *) cands+=(--revoke --json --format --allow-skipped --progress --api-url --help); _files ;;
        version\ *) cands+=(--json --help) ;;
    esac
    compadd -a cands
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _pihu "$@"
else
    compdef _pihu pihu
fi
`

const fishCompletion = `# fish completion for pihu: pihu completion fish | source
complete -c pihu -f
complete -c pihu -n __fish_use_subcommand -a 'serve accounts keys permissions roles identities signing-keys migrate scan completion version help'
complete -c pihu -n '__fish_seen_subcommand_from accounts' -a 'create list recover sign-in members help'
complete -c pihu -n '__fish_seen_subcommand_from keys' -a 'list create get update revoke rotate disable enable requests help'
complete -c pihu -n '__fish_seen_subcommand_from permissions' -a 'list add delete help'
complete -c pihu -n '__fish_seen_subcommand_from roles' -a 'list get create update delete help'
complete -c pihu -n '__fish_seen_subcommand_from roles' -l api-url -l limit -l starting-after -l ending-before -l name -l description -l permission -l force
complete -c pihu -n '__fish_seen_subcommand_from identities' -a 'list show create update delete help'
complete -c pihu -n '__fish_seen_subcommand_from identities' -l api-url -l limit -l starting-after -l ending-before -l external-id -l metadata -l rate-limit -l ratelimit -l credits -l add-credits -l refill -l revoke-keys
complete -c pihu -n '__fish_seen_subcommand_from signing-keys' -a 'list rotate help'
complete -c pihu -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'
complete -c pihu -n '__fish_seen_subcommand_from serve' -l addr -l database -l redis -l exact-limits -l exact-credits -l credit-lease-ttl -l rate-limit -l failed-auth-limit -l issuer -l log-format -l trusted-proxy-header -l trusted-proxies -l cors-origins -l gateway-routes -l ext-authz-addr -l github-keys-url -l github-keys-file -l tls-cert -l tls-key -l metrics-addr -l drain-delay -l drain-timeout -l access-log -l pprof -l key-cache-size -l webhooks -l webhook-retry -l webhook-loopback -l dashboard-origin -l sso-providers -l key-cache-ttl -l stale-if-error -l database-timeout -l require-database-at-start -l request-log-retention -l request-log-max -l request-log-rate -l request-log-burst
complete -c pihu -n '__fish_seen_subcommand_from accounts permissions signing-keys migrate' -l database
complete -c pihu -n '__fish_seen_subcommand_from permissions' -l server -l description -l force -l api-url
complete -c pihu -n '__fish_seen_subcommand_from accounts' -l name
complete -c pihu -n '__fish_seen_subcommand_from keys' -l api-url -l limit -l starting-after -l ending-before -l enabled -l name-prefix -l metadata -l name -l permission -l role -l expiration -l environment -l rate-limit -l ratelimit -l allowed-ip -l cascade -l expire-old-in -l identity -l refused -l status -l code -l since -l until
complete -c pihu -n '__fish_seen_subcommand_from scan' -F -l revoke -l format -l allow-skipped -l progress -l api-url
complete -c pihu -n '__fish_seen_subcommand_from accounts keys permissions roles identities signing-keys scan version' -l json
complete -c pihu -l help
`
