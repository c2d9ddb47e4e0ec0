package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/signing"
)

func (a *app) verifyCmd() *cobra.Command {
	var dir, keysDir string
	c := &cobra.Command{
		Use:   "verify [VERSION | --dir DIR]",
		Short: "Check a release's signature, then re-hash every file against its manifest; exit 3 on any difference",
		Long: `verify VERSION checks a published release in the platform's bucket against the keys published
there. verify --dir DIR checks a bundle on disk (as osservatorio pull writes it) against the public keys in
--keys (default: the keys/ folder beside DIR, which pull keeps), with no server at all.
The signature (datapackage.json.sig, ed25519) is checked first, then every file's size and sha256.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var v *release.Verification
			var err error
			switch {
			case dir != "" && len(args) == 0:
				v, err = verifyDir(ctx, dir, keysDir)
			case dir == "" && len(args) == 1:
				v, err = a.verifyPublished(ctx, args[0])
			default:
				return &ExitError{Code: 2, Err: fmt.Errorf("give a VERSION or --dir DIR (not both)")}
			}
			if err != nil {
				return err
			}
			return a.reportVerification(v)
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "a bundle folder on disk (DIR/<version> as pull writes it)")
	c.Flags().StringVar(&keysDir, "keys", "", "folder of trusted public keys (<key id>.json) for --dir (default DIR/../keys)")
	return c
}

func (a *app) verifyPublished(ctx context.Context, version string) (*release.Verification, error) {
	p, err := a.open()
	if err != nil {
		return nil, err
	}
	if _, err := a.manifest(ctx, p, version); err != nil {
		return nil, err
	}
	keys, err := p.Releases.Keys(ctx)
	if err != nil {
		return nil, err
	}
	v, _, err := release.Check(ctx, release.BucketOpener(p.Bucket, release.Prefix(version)), keys)
	return v, err
}

func verifyDir(ctx context.Context, dir, keysDir string) (*release.Verification, error) {
	if keysDir == "" {
		keysDir = filepath.Join(filepath.Dir(filepath.Clean(dir)), "keys")
	}
	keys, err := signing.ReadKeys(keysDir)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("trusted keys: %w", err)}
	}
	v, _, err := release.Check(ctx, release.DirOpener(dir), keys)
	if err != nil {
		return nil, &ExitError{Code: 3, Err: fmt.Errorf("%s: %w", dir, err)}
	}
	return v, nil
}

func (a *app) reportVerification(v *release.Verification) error {
	problems := v.Problems()
	if a.asJSON {
		if err := a.printJSON(v); err != nil {
			return err
		}
	} else {
		var sig string
		if v.Signature != nil {
			sig = fmt.Sprintf("signature ok (key %s, signed %s)", v.Signature.KeyID, v.Signature.SignedAt.Format("2006-01-02 15:04:05Z07:00"))
		} else {
			sig = "SIGNATURE BAD: " + v.SignatureError
		}
		fmt.Fprintf(a.stdout, "release %s: %s\n", v.Version, sig)
		tw := a.table()
		fmt.Fprintln(tw, "FILE\tRESULT\tBYTES\tHASH")
		for _, c := range v.Files {
			res := "ok"
			if !c.OK {
				res = "MISMATCH"
				if c.Error != "" {
					res = "ERROR " + c.Error
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", c.Path, res, c.GotBytes, c.WantBytes, c.GotHash)
		}
		tw.Flush()
	}
	if len(problems) > 0 {
		return &ExitError{Code: 3, Err: fmt.Errorf("release %s does not verify: %d problem(s): %s", v.Version, len(problems), problems[0])}
	}
	if !a.asJSON {
		fmt.Fprintf(a.stdout, "release %s verified: signature and %d files match datapackage.json\n", v.Version, len(v.Files))
	}
	return nil
}
