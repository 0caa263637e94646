// Command grype-osv-db writes a Grype vulnerability database (schema v6: `<root>/6/vulnerability.db` and its
// `import.json`, the layout `GRYPE_DB_CACHE_DIR` points at) from a directory of OSV JSON records, so that Grype can
// scan offline (GRYPE_DB_AUTO_UPDATE=false) against the same advisories as the other scanners.
//
// Why it exists: Grype matches only against its own database, which is downloaded; and its database builder reads
// vunnel's per-provider results, whose OSV transformer handles only a few providers' records (AlmaLinux, Bitnami,
// the Go vulndb, Root.io, Chainguard, Docker Hardened Images), not Debian's or GitHub's OSV exports. The records
// are mapped here the way those transformers map OSV (one range per introduced/fixed window, ">= X, < Y" in the
// ecosystem's version format), into the handles Grype's own GitHub and OS transformers emit for those
// ecosystems, and written by Grype's database writer (grype/db/v6/build), then hydrated (indexes) and given the
// import metadata (digest, client schema) exactly as `grype db import` does.
//
//	grype-osv-db OSV_DIR DB_ROOT_DIR
//	grype-osv-db --version
//
// Ecosystems:
//   - npm and PyPI: language packages (`npm`, `python` ecosystems, names normalised as Grype does);
//   - Debian:<major>: `deb` packages of operating system debian <major>, keyed by source package as in Grype's
//     Debian data (Grype matches a binary package through its source package too), dpkg version order.
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/afero"

	"github.com/anchore/grype/grype/db/data"
	"github.com/anchore/grype/grype/db/provider"
	db "github.com/anchore/grype/grype/db/v6"
	v6build "github.com/anchore/grype/grype/db/v6/build"
	"github.com/anchore/grype/grype/db/v6/build/transformers"
	"github.com/anchore/grype/grype/db/v6/name"
	"github.com/anchore/syft/syft/pkg"
)

// The provider every record is written under (Grype shows it as the finding's namespace).
const providerID = "osv-local"

// The subset of the OSV schema (https://ossf.github.io/osv-schema/) the database needs.
type record struct {
	ID         string     `json:"id"`
	Aliases    []string   `json:"aliases"`
	Upstream   []string   `json:"upstream"`
	Summary    string     `json:"summary"`
	Details    string     `json:"details"`
	Published  *time.Time `json:"published"`
	Modified   *time.Time `json:"modified"`
	Withdrawn  *time.Time `json:"withdrawn"`
	Affected   []affected `json:"affected"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
}

type affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges []struct {
		Type   string `json:"type"`
		Events []struct {
			Introduced   string `json:"introduced"`
			Fixed        string `json:"fixed"`
			LastAffected string `json:"last_affected"`
		} `json:"events"`
	} `json:"ranges"`
	Versions []string `json:"versions"`
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println(version())
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: grype-osv-db OSV_DIR DB_ROOT_DIR")
		os.Exit(2)
	}
	if err := build(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "grype-osv-db: %v\n", err)
		os.Exit(1)
	}
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/anchore/grype" {
				return "grype-osv-db (grype " + dep.Version + ", schema v" + strconv.Itoa(db.ModelVersion) + ")"
			}
		}
	}
	return "grype-osv-db"
}

func build(osvDir, root string) error {
	dbDir := filepath.Join(root, strconv.Itoa(db.ModelVersion))
	// A database is written from scratch: the writer would otherwise add to a previous record set.
	if err := os.RemoveAll(dbDir); err != nil {
		return err
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	state := provider.State{Provider: providerID, Version: 1, Processor: "grype-osv-db", Timestamp: time.Now().UTC()}
	writer, err := v6build.NewWriter(dbDir, provider.States{state}, false, 0)
	if err != nil {
		return err
	}
	written := 0
	walkErr := filepath.WalkDir(osvDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var rec record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		entries := transform(rec, state)
		if entries == nil {
			return nil
		}
		written++
		return writer.Write(entries...)
	})
	if closeErr := writer.Close(); walkErr == nil {
		walkErr = closeErr
	}
	if walkErr != nil {
		return walkErr
	}
	if written == 0 {
		return fmt.Errorf("no npm, PyPI or Debian record under %s", osvDir)
	}
	// What `grype db import` does after unpacking: create the indexes, then record the digest and the schema the
	// client hydrated with (Grype refuses a database without this file).
	if err := db.Hydrater()(dbDir); err != nil {
		return err
	}
	_, err = db.WriteImportMetadata(afero.NewOsFs(), dbDir, "file://"+osvDir)
	return err
}

// transform maps one OSV record to Grype's handles; nil when none of its packages is in a supported ecosystem.
func transform(rec record, state provider.State) []data.Entry {
	var handles []any
	for _, a := range rec.Affected {
		h, ok := affectedPackage(rec, a)
		if ok {
			handles = append(handles, h)
		}
	}
	if len(handles) == 0 {
		return nil
	}
	status := db.VulnerabilityActive
	if rec.Withdrawn != nil {
		status = db.VulnerabilityRejected
	}
	refs := make([]db.Reference, 0, len(rec.References))
	for _, r := range rec.References {
		refs = append(refs, db.Reference{URL: r.URL})
	}
	vuln := db.VulnerabilityHandle{
		Name:          rec.ID,
		ProviderID:    providerID,
		Provider:      provider.Model(state),
		Status:        status,
		PublishedDate: rec.Published,
		ModifiedDate:  rec.Modified,
		WithdrawnDate: rec.Withdrawn,
		BlobValue: &db.VulnerabilityBlob{
			ID:          rec.ID,
			Description: strings.TrimSpace(firstNonEmpty(rec.Summary, rec.Details)),
			References:  refs,
			Aliases:     append(append([]string{}, rec.Aliases...), rec.Upstream...),
		},
	}
	return transformers.NewEntries(append([]any{vuln}, handles...)...)
}

func affectedPackage(rec record, a affected) (db.AffectedPackageHandle, bool) {
	eco, release, _ := strings.Cut(a.Package.Ecosystem, ":")
	var t pkg.Type
	var format string
	var operatingSystem *db.OperatingSystem
	switch {
	case eco == "npm":
		t, format = pkg.NpmPkg, "npm"
	case eco == "PyPI":
		t, format = pkg.PythonPkg, "python"
	case eco == "Debian" && release != "":
		major, minor, _ := strings.Cut(release, ".")
		t, format = pkg.DebPkg, "dpkg"
		operatingSystem = &db.OperatingSystem{Name: "debian", ReleaseID: "debian", MajorVersion: major, MinorVersion: minor, Codename: debianCodenames[major]}
	default:
		return db.AffectedPackageHandle{}, false
	}
	ranges := windows(a, format)
	if len(ranges) == 0 {
		return db.AffectedPackageHandle{}, false
	}
	var cves []string
	for _, id := range append(append([]string{}, rec.Aliases...), rec.Upstream...) {
		if strings.HasPrefix(id, "CVE-") {
			cves = append(cves, id)
		}
	}
	return db.AffectedPackageHandle{
		OperatingSystem: operatingSystem,
		Package:         &db.Package{Ecosystem: string(t), Name: name.Normalize(a.Package.Name, t)},
		BlobValue:       &db.PackageBlob{CVEs: cves, Ranges: ranges},
	}, true
}

// windows is one Grype range per affected window of the OSV ranges (introduced opens one, fixed or last_affected
// closes it, an unclosed one is open-ended), plus one per explicitly listed version; as Grype's OSV transformers do.
func windows(a affected, format string) []db.Range {
	var out []db.Range
	for _, r := range a.Ranges {
		if r.Type == "GIT" {
			continue
		}
		var constraint string
		open := false
		for _, e := range r.Events {
			switch {
			case e.Introduced != "":
				open = true
				constraint = ""
				if e.Introduced != "0" {
					constraint = ">= " + e.Introduced
				}
			case e.Fixed != "" && open:
				out = append(out, db.Range{
					Version: db.Version{Type: format, Constraint: and(constraint, "< "+e.Fixed)},
					Fix:     &db.Fix{Version: e.Fixed, State: db.FixedStatus},
				})
				open = false
			case e.LastAffected != "" && open:
				out = append(out, db.Range{Version: db.Version{Type: format, Constraint: and(constraint, "<= "+e.LastAffected)}})
				open = false
			}
		}
		if open {
			out = append(out, db.Range{Version: db.Version{Type: format, Constraint: constraint}, Fix: &db.Fix{State: db.NotFixedStatus}})
		}
	}
	versions := append([]string{}, a.Versions...)
	sort.Strings(versions)
	for _, v := range versions {
		out = append(out, db.Range{Version: db.Version{Type: format, Constraint: "= " + v}})
	}
	return out
}

// Grype looks a distribution up by its os-release codename as well as its version, so every operating system row
// carries it, as in Grype's own database (its builder's table of codenames is internal to its module).
var debianCodenames = map[string]string{
	"7": "wheezy", "8": "jessie", "9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky",
}

func and(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
