// Command trivy-osv-db writes a Trivy vulnerability database (the BoltDB `trivy.db` and its `metadata.json`, in
// the `<cache dir>/db` layout `trivy --cache-dir` reads) from a directory of OSV JSON records, so that Trivy can
// scan offline (`--skip-db-update --offline-scan`) against the same advisories as the other scanners.
//
// Why it exists: Trivy matches only against its own database, which is built from each vendor's feed and
// downloaded from a registry; neither is possible here. It is built with trivy-db's own packages, as Trivy's
// database pipeline builds it:
//   - npm and PyPI records go through trivy-db's OSV importer (vulnsrc/osv), which is what imports the GitHub,
//     Go and Python advisory OSV feeds into the published database;
//   - Debian records (`Debian:<major>`, keyed by source package) are written like trivy-db's Debian source does:
//     one advisory per source package in the `debian <major>` bucket, with the fixed version, or none when every
//     version is affected. Trivy's Debian detector reads only that fixed version, so a Debian range that starts
//     after version 0 or ends at a `last_affected` version cannot be expressed and is reported, not written.
//
// Then trivy-db's vulndb pipeline copies the advisories into their buckets, normalises the vulnerability details
// and writes the metadata (schema version 2), exactly as for a published database.
//
//	trivy-osv-db OSV_DIR CACHE_DIR
//	trivy-osv-db --version
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/ecosystem"
	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulndb"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/bucket"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/osv"
)

const (
	langSourceID   types.SourceID = "osv-local"
	debianSourceID types.SourceID = "osv-local-debian"
)

// The data source every language advisory carries: Trivy shows it in each finding.
var localSource = types.DataSource{ID: langSourceID, Name: "OSV records (local)"}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println(version())
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: trivy-osv-db OSV_DIR CACHE_DIR")
		os.Exit(2)
	}
	if err := build(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "trivy-osv-db: %v\n", err)
		os.Exit(1)
	}
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/aquasecurity/trivy-db" {
				return "trivy-osv-db (trivy-db " + dep.Version + ")"
			}
		}
	}
	return "trivy-osv-db"
}

func build(osvDir, cacheDir string) error {
	osvDir, err := filepath.Abs(osvDir)
	if err != nil {
		return err
	}
	dbDir := filepath.Join(cacheDir, "db")
	// A database is written from scratch: advisories left from another record set would be matched too.
	if err := os.RemoveAll(dbDir); err != nil {
		return err
	}
	if err := db.Init(dbDir); err != nil {
		return fmt.Errorf("open %s: %w", db.Path(dbDir), err)
	}
	defer db.Close()

	lang := osv.New("", langSourceID, map[ecosystem.Type]types.DataSource{ecosystem.Npm: localSource, ecosystem.Pip: localSource})
	deb := debianSource{dbc: db.Config{}}
	srcs := map[types.SourceID]vulnsrc.VulnSrc{langSourceID: lang, debianSourceID: deb}
	// updateInterval only sets NextUpdate in the metadata; `--skip-db-update` never looks at it.
	core := vulndb.New(osvDir, dbDir, 24*time.Hour, vulndb.WithVulnSrcs(srcs))
	if err := core.Build([]string{string(langSourceID), string(debianSourceID)}); err != nil {
		return err
	}
	return nil
}

// debianSource writes `Debian:<major>` OSV records as trivy-db's Debian source writes the security tracker's data.
type debianSource struct {
	dbc db.Config
}

func (debianSource) Name() types.SourceID { return debianSourceID }

func (s debianSource) Update(root string) error {
	var skipped []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var entry osv.Entry
		if err := json.Unmarshal(raw, &entry); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if entry.Withdrawn != nil && entry.Withdrawn.Before(time.Now()) {
			return nil
		}
		return s.dbc.BatchUpdate(func(tx *bolt.Tx) error {
			for _, affected := range entry.Affected {
				eco, release, _ := strings.Cut(affected.Package.Ecosystem, ":")
				if eco != "Debian" || release == "" {
					continue
				}
				fixed, ok := debianFixedVersion(affected)
				if !ok {
					skipped = append(skipped, entry.ID+" "+affected.Package.Name)
					continue
				}
				if err := s.put(tx, entry, affected.Package.Name, bucket.NewDebian(strings.Split(release, ".")[0]).Name(), fixed); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if len(skipped) > 0 {
		fmt.Fprintf(os.Stderr, "trivy-osv-db: %d Debian ranges Trivy cannot express (only a fixed version): %s\n", len(skipped), strings.Join(skipped, ", "))
	}
	return err
}

// debianFixedVersion is the one fixed version (empty: every version affected) of a range that starts at 0.
func debianFixedVersion(affected osv.Affected) (string, bool) {
	if len(affected.Ranges) != 1 || len(affected.Versions) > 0 {
		return "", len(affected.Ranges) == 0 && len(affected.Versions) == 0
	}
	fixed := ""
	for i, ev := range affected.Ranges[0].Events {
		switch {
		case ev.Introduced != "":
			if i != 0 || ev.Introduced != "0" {
				return "", false
			}
		case ev.Fixed != "":
			if fixed != "" {
				return "", false
			}
			fixed = ev.Fixed
		default:
			return "", false
		}
	}
	return fixed, true
}

func (s debianSource) put(tx *bolt.Tx, entry osv.Entry, pkgName, platform, fixed string) error {
	adv := types.Advisory{VendorIDs: entry.Upstream, FixedVersion: fixed}
	if fixed == "" {
		adv.Status = types.StatusAffected
	}
	if err := s.dbc.PutAdvisoryDetail(tx, entry.ID, pkgName, []string{platform}, &adv); err != nil {
		return err
	}
	detail := types.VulnerabilityDetail{Title: entry.Summary, Description: entry.Details}
	if err := s.dbc.PutVulnerabilityDetail(tx, entry.ID, debianSourceID, detail); err != nil {
		return err
	}
	if err := s.dbc.PutVulnerabilityID(tx, entry.ID); err != nil {
		return err
	}
	return s.dbc.PutDataSource(tx, platform, types.DataSource{ID: debianSourceID, Name: "OSV records (local)"})
}
