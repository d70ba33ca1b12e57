// Package scanners holds the rules that let the secret scanners people
// already run find Pihu API keys: a gitleaks rule (gitleaks.toml) and a
// TruffleHog custom detector (trufflehog.yaml), with the pattern `pihu
// scan` uses. The pre-commit hooks (.pre-commit-hooks.yaml) and the GitHub
// Action (action.yml) are at the repository's root, where those tools
// look for them. The package has no code: its tests check the rules
// against real keys, and docs/scan.md explains them.
package scanners
