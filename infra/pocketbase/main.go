// PocketBase host program for CloudFreedom: the stock PocketBase server plus the jsvm plugin
// (JS migrations in pb_migrations), the migrate command with JS templates, and the bulk insert route (bulk.go).
package main

import (
	"errors"
	"log"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/cmd"
	"github.com/pocketbase/pocketbase/plugins/jsvm"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/spf13/cobra"
)

// defaultGCPercent is the Go garbage collector's target when GOGC is not set: the heap may grow to 5x what is
// live between collections instead of 2x. The bulk route allocates a few KB per row it decodes and writes, and
// with Go's default of 100 collection took ~20 % of PocketBase's CPU under bench/usage; at 400 the bench ran
// ~1.2x faster for ~50 MB more peak RSS (144 -> 197 MB; 800 gave 277 MB for no further gain). GOGC=100
// restores Go's default; GOMEMLIMIT bounds the heap where memory is tight.
const defaultGCPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}

	// Defaults resolve beside this source folder when the binary sits in infra/pocketbase/bin,
	// so `bin/pocketbase serve` works without flags; Docker passes --dir and --migrationsDir.
	baseDir := sourceDir()

	app := pocketbase.NewWithConfig(pocketbase.Config{
		DefaultDataDir: filepath.Join(baseDir, "pb_data"),
		DBConnect:      sqliteConnect,
	})

	var migrationsDir, hooksDir string
	var hooksWatch bool
	flags := app.RootCmd.PersistentFlags()
	flags.StringVar(&migrationsDir, "migrationsDir", filepath.Join(baseDir, "pb_migrations"), "the directory with the JS migrations")
	flags.StringVar(&hooksDir, "hooksDir", filepath.Join(baseDir, "pb_hooks"), "the directory with the JS app hooks")
	flags.BoolVar(&hooksWatch, "hooksWatch", false, "restart the app when a pb_hooks file changes")
	_ = app.RootCmd.ParseFlags(os.Args[1:])

	jsvm.MustRegister(app, jsvm.Config{
		MigrationsDir: migrationsDir,
		HooksDir:      hooksDir,
		HooksWatch:    hooksWatch,
	})

	// Schema changes are made only through migration files, never recorded from the dashboard.
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{
		TemplateLang: migratecmd.TemplateLangJS,
		Automigrate:  false,
		Dir:          migrationsDir,
	})

	registerBulkRoute(app)
	registerUsageSums(app)
	registerOAuth2Reclaim(app)

	// Same commands as app.Start(), registered here so that command errors can be captured:
	// this PocketBase version exits 0 even when a command (migrate, superuser upsert) fails.
	app.RootCmd.AddCommand(cmd.NewSuperuserCommand(app))
	app.RootCmd.AddCommand(cmd.NewServeCommand(app, true))
	var cmdErr error
	captureErrors(app.RootCmd, &cmdErr)

	if err := app.Execute(); err != nil {
		log.Fatal(err)
	}
	if cmdErr != nil {
		os.Exit(1)
	}
}

func captureErrors(c *cobra.Command, target *error) {
	if run := c.RunE; run != nil {
		c.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			if err != nil {
				*target = errors.Join(*target, err)
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		captureErrors(sub, target)
	}
}

// sourceDir is the parent of the folder holding the executable (infra/pocketbase for bin/pocketbase).
func sourceDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Dir(filepath.Dir(exe))
}
