package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/pull"
)

func (a *app) pullCmd() *cobra.Command {
	var o pull.Options
	var endpoint, bucket, accessKey, secretKey string
	var useSSL, watch bool
	var interval time.Duration
	c := &cobra.Command{
		Use:   "pull --dir DIR [--watch]",
		Short: "At an observatory: fetch the releases it subscribes to with its own key, verify them, acknowledge",
		Long: `pull runs at the observatory with the storage credentials the platform gave it (osservatorio observatory
credentials ID): no Temporal, no platform key, no configuration file. It fetches every release newer than the
newest in DIR (the latest one on a first pull; --all for every one, --version for one) into DIR/<version>/,
taking only the files it lacks (a file with the same hash in an earlier release is linked, not downloaded),
resumes an interrupted pull, checks the signature and every hash before the release appears (an atomic
rename), points DIR/latest at the newest, and acknowledges each release to the platform's ledger.

Credentials come from the flags or OSSERVATORIO_PULL_ENDPOINT, _BUCKET, _ACCESS_KEY, _SECRET_KEY, _USE_SSL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := func(v *string, name string) {
				if *v == "" {
					*v = a.getenv("OSSERVATORIO_PULL_" + name)
				}
			}
			env(&endpoint, "ENDPOINT")
			env(&bucket, "BUCKET")
			env(&accessKey, "ACCESS_KEY")
			env(&secretKey, "SECRET_KEY")
			useSSL = useSSL || a.getenv("OSSERVATORIO_PULL_USE_SSL") == "true"
			if endpoint == "" || bucket == "" || accessKey == "" || secretKey == "" || o.Dir == "" {
				return &ExitError{Code: 2, Err: fmt.Errorf("pull needs --dir and the observatory's --endpoint, --bucket, --access-key and --secret-key (or OSSERVATORIO_PULL_*)")}
			}
			if o.Observatory == "" {
				o.Observatory = strings.TrimPrefix(accessKey, "obs-")
			}
			st, err := objectstore.New(objectstore.Config{Endpoint: endpoint, AccessKey: accessKey, SecretKey: secretKey, UseSSL: useSSL})
			if err != nil {
				return err
			}
			o.Bucket = st.Bucket(bucket)
			if !a.asJSON {
				o.OnFile = func(version, path string, reused bool) {
					how := "downloaded"
					if reused {
						how = "already here"
					}
					fmt.Fprintf(a.stderr, "  %s %s (%s)\n", version, path, how)
				}
			}
			for {
				if err := a.pullOnce(cmd.Context(), o); err != nil || !watch {
					return err
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	c.Flags().StringVar(&o.Dir, "dir", "", "folder the releases go into (DIR/<version>, DIR/latest)")
	c.Flags().StringVar(&o.Version, "version", "", "pull this release only")
	c.Flags().BoolVar(&o.All, "all", false, "pull every published release, not only the newer ones")
	c.Flags().StringVar(&o.Observatory, "observatory", "", "observatory id (default: the access key without obs-)")
	c.Flags().StringVar(&endpoint, "endpoint", "", "S3 endpoint host:port")
	c.Flags().StringVar(&bucket, "bucket", "", "the platform's bucket")
	c.Flags().StringVar(&accessKey, "access-key", "", "the observatory's access key")
	c.Flags().StringVar(&secretKey, "secret-key", "", "the observatory's secret key (better: OSSERVATORIO_PULL_SECRET_KEY)")
	c.Flags().BoolVar(&useSSL, "use-ssl", false, "HTTPS to the endpoint")
	c.Flags().BoolVar(&watch, "watch", false, "keep pulling every --interval")
	c.Flags().DurationVar(&interval, "interval", 5*time.Minute, "how often --watch looks for new releases")
	return c
}

func (a *app) pullOnce(ctx context.Context, o pull.Options) error {
	res, err := pull.Pull(ctx, o)
	if a.asJSON {
		if jerr := a.printJSON(map[string]any{"pulled": res, "error": errString(err)}); jerr != nil {
			return jerr
		}
	} else {
		for _, r := range res {
			fmt.Fprintf(a.stdout, "release %s verified into %s: %d files, %d downloaded (%d bytes), %d already here; signed by %s; acknowledged\n",
				r.Version, r.Dir, r.Files, r.Downloaded, r.Bytes, r.Reused, r.KeyID)
		}
		if len(res) == 0 && err == nil {
			fmt.Fprintf(a.stdout, "nothing new: %s holds %v\n", o.Dir, pull.Local(o.Dir))
		}
	}
	if errors.Is(err, pull.ErrNotVerified) {
		return &ExitError{Code: 3, Err: err}
	}
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
