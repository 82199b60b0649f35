package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/internal/redrive"
)

// runRedriveS3 replays the failed-batch objects of an S3 on-failure
// destination.
func runRedriveS3(ctx context.Context, f redriveFlags, cfg redrive.Config, awsCfg aws.Config) error {
	sc := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Local S3 servers (and many S3-compatible stores) take path-style
		// requests only.
		if os.Getenv("AWS_ENDPOINT_URL_S3") != "" {
			o.UsePathStyle = true
		}
		// Objects written without a checksum (as the mapping may write
		// them) are read all the same; the SDK's note on each is noise.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	where := "s3://" + cfg.Bucket + "/" + cfg.Prefix
	bar := startRedriveProgress(f, &cfg, "listing failed-batch objects...", "objects")
	rep, runErr := redrive.NewS3(sc, lambda.NewFromConfig(awsCfg), cfg).RunS3(ctx)
	bar.Stop()
	if f.jsonOut {
		_ = writeJSON(os.Stdout, struct {
			Bucket string `json:"bucket"`
			Prefix string `json:"prefix"`
			redrive.Report
		}{cfg.Bucket, cfg.Prefix, rep})
	} else {
		printRedriveReport(os.Stdout, where, rep)
	}
	if runErr != nil {
		return runErr
	}
	if n := rep.Problems(); n > 0 {
		return fmt.Errorf("%d object(s) kept in %s because of a problem (see above)", n, where)
	}
	return nil
}
