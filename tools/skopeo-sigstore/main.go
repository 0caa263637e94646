// Command skopeo-sigstore is the subset of `skopeo` that the signing interop tests run, with skopeo's
// flag names and semantics, on skopeo's own engine: github.com/containers/image/v5.
//
// Why it exists: Debian builds skopeo with sigstore support patched out, and the upstream skopeo
// module cannot be fetched through the Go module proxy, while containers/image (the library skopeo is a
// thin CLI over, at the version skopeo v1.16.1 pins) can. Verification (policy.json `sigstoreSigned`,
// registries.d `use-sigstore-attachments`) and signing (--sign-by-sigstore-private-key) are done by
// containers/image exactly as in skopeo; this file only maps the command line onto copy.Image.
//
// Supported:
//
//	skopeo-sigstore [--policy FILE | --insecure-policy] [--registries.d DIR] copy
//	    [--remove-signatures] [--preserve-digests] [--src-tls-verify=BOOL] [--dest-tls-verify=BOOL]
//	    [--sign-by-sigstore-private-key FILE [--sign-passphrase-file FILE]] [--quiet] SOURCE DESTINATION
//	skopeo-sigstore --version
//
// Build: go build -tags "containers_image_openpgp containers_image_storage_stub containers_image_docker_daemon_stub"
// (no cgo gpgme, no containers-storage or docker-daemon transports).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/containers/image/v5/copy"
	ocilayout "github.com/containers/image/v5/oci/layout"
	"github.com/containers/image/v5/pkg/cli"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/transports/alltransports"
	"github.com/containers/image/v5/types"
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"golang.org/x/term"
)

// optionalBool is skopeo's OptionalBool: unset unless given; `--x` alone means true.
type optionalBool struct {
	present, value bool
}

func (b *optionalBool) String() string   { return strconv.FormatBool(b.value) }
func (b *optionalBool) IsBoolFlag() bool { return true }
func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.present, b.value = true, v
	return nil
}

type globalOptions struct {
	policyPath, registriesDirPath string
	insecurePolicy, version       bool
}

// addGlobal registers skopeo's persistent flags, which are accepted before or after the subcommand.
func (g *globalOptions) addGlobal(fs *flag.FlagSet) {
	fs.StringVar(&g.policyPath, "policy", g.policyPath, "Path to a trust policy file")
	fs.BoolVar(&g.insecurePolicy, "insecure-policy", g.insecurePolicy, "run the tool without any policy check")
	fs.StringVar(&g.registriesDirPath, "registries.d", g.registriesDirPath, "use registry configuration files in `DIR` (e.g. for container signature storage)")
}

func (g *globalOptions) policyContext() (*signature.PolicyContext, error) {
	var policy *signature.Policy
	var err error
	switch {
	case g.insecurePolicy:
		policy = &signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}}
	case g.policyPath == "":
		policy, err = signature.DefaultPolicy(nil)
	default:
		policy, err = signature.NewPolicyFromFile(g.policyPath)
	}
	if err != nil {
		return nil, err
	}
	return signature.NewPolicyContext(policy)
}

func (g *globalOptions) systemContext(tlsVerify optionalBool) *types.SystemContext {
	ctx := &types.SystemContext{RegistriesDirPath: g.registriesDirPath, DockerRegistryUserAgent: "skopeo-sigstore containers/image/" + engineVersion()}
	if tlsVerify.present {
		ctx.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!tlsVerify.value)
		ctx.DockerDaemonInsecureSkipTLSVerify = !tlsVerify.value
	}
	return ctx
}

// parseInterspersed parses flags anywhere among the arguments, as skopeo's command-line library does.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func copyCmd(g *globalOptions, args []string) error {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	g.addGlobal(fs)
	var srcTLS, destTLS optionalBool
	var removeSignatures, preserveDigests, quiet bool
	var sigstoreKey, passphraseFile string
	fs.BoolVar(&removeSignatures, "remove-signatures", false, "Do not copy signatures from SOURCE-IMAGE")
	fs.BoolVar(&preserveDigests, "preserve-digests", false, "Preserve digests of images and lists")
	fs.BoolVar(&quiet, "quiet", false, "Suppress output information when copying images")
	fs.BoolVar(&quiet, "q", false, "Suppress output information when copying images")
	fs.Var(&srcTLS, "src-tls-verify", "require HTTPS and verify certificates when talking to the container registry or daemon")
	fs.Var(&destTLS, "dest-tls-verify", "require HTTPS and verify certificates when talking to the container registry or daemon")
	fs.StringVar(&sigstoreKey, "sign-by-sigstore-private-key", "", "Sign the image using a sigstore private key at `PATH`")
	fs.StringVar(&passphraseFile, "sign-passphrase-file", "", "Read a passphrase for signing an image from `PATH`")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 2 {
		return errors.New("Exactly two arguments expected")
	}

	policyContext, err := g.policyContext()
	if err != nil {
		return fmt.Errorf("Error loading trust policy: %v", err)
	}
	defer func() { _ = policyContext.Destroy() }()
	srcRef, err := alltransports.ParseImageName(names[0])
	if err != nil {
		return fmt.Errorf("Invalid source name %s: %v", names[0], err)
	}
	destRef, err := alltransports.ParseImageName(names[1])
	if err != nil {
		return fmt.Errorf("Invalid destination name %s: %v", names[1], err)
	}

	var passphrase string
	if passphraseFile != "" {
		if passphrase, err = cli.ReadPassphraseFile(passphraseFile); err != nil {
			return err
		}
	} else if sigstoreKey != "" {
		if passphrase, err = promptForPassphrase(sigstoreKey); err != nil {
			return err
		}
	}
	var report io.Writer = os.Stdout
	if quiet {
		report = nil
	}
	_, err = copy.Image(context.Background(), policyContext, destRef, srcRef, &copy.Options{
		RemoveSignatures:                 removeSignatures,
		SignBySigstorePrivateKeyFile:     sigstoreKey,
		SignSigstorePrivateKeyPassphrase: []byte(passphrase),
		ReportWriter:                     report,
		SourceCtx:                        g.systemContext(srcTLS),
		DestinationCtx:                   g.systemContext(destTLS),
		PreserveDigests:                  preserveDigests,
	})
	return err
}

func promptForPassphrase(keyFile string) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", fmt.Errorf("Cannot prompt for a passphrase for key %s, standard input is not a TTY", keyFile)
	}
	fmt.Fprintf(os.Stdout, "Passphrase for key %s: ", keyFile)
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stdout)
	if err != nil {
		return "", fmt.Errorf("Error reading password: %w", err)
	}
	return string(p), nil
}

// engineVersion is the containers/image version this binary is built with.
func engineVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/containers/image/v5" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// isNotFoundImageError is skopeo's heuristic for "the image does not exist" (exit status 2).
func isNotFoundImageError(err error) bool {
	var ec errcode.ErrorCoder
	return (errors.As(err, &ec) && ec.ErrorCode() == v2.ErrorCodeManifestUnknown) || errors.Is(err, ocilayout.ImageNotFoundError{})
}

func run(args []string) error {
	g := &globalOptions{}
	fs := flag.NewFlagSet("skopeo-sigstore", flag.ContinueOnError)
	g.addGlobal(fs)
	fs.BoolVar(&g.version, "version", false, "Version for Skopeo")
	fs.BoolVar(&g.version, "v", false, "Version for Skopeo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if g.version {
		fmt.Printf("skopeo-sigstore version containers/image-%s (the skopeo copy subset)\n", engineVersion())
		return nil
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return errors.New("a subcommand is required (only `copy` is implemented)")
	}
	switch rest[0] {
	case "copy":
		return copyCmd(g, rest[1:])
	default:
		return fmt.Errorf("unknown command %q (only `copy` is implemented)", rest[0])
	}
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "skopeo-sigstore: %v\n", err)
		if isNotFoundImageError(err) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
