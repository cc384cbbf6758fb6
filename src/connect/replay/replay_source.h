#pragma once
// Replay source: streams a historian CSV export or a waveform CSV into the runtime as if it came
// from a live machine, in real time, N times faster, or as fast as the bus takes it.
//
// Formats (key "format"):
//   wide      a time column plus one column per tag; one batch of Samples per row
//   long      rows of (tag, time, value); consecutive rows with the same time form one batch;
//             rows whose tag is not configured are read and ignored
//   waveform  one column per channel, no time column; Blocks of block_size samples at
//             sample_rate_hz, block i starting at start_time + i * block_size / fs. At real-time
//             pacing a block is released once its last sample's time has passed. A shorter last
//             block carries the remaining samples.
//
// Values: a cell of a number column becomes a double, of a text column a string (production
// context like "Light_Load"). A column is number or text by the tag key kind, or else by its
// first non-empty cell. An empty cell gives no sample. A cell that is not a number in a number
// column gives a Sample with quality bad / parse_error and no value (waveform: NaN in the block,
// block quality uncertain / parse_error), and is reported as "replay_cell_rejected".
//
// Reported, never silent (an Event, plus metrics labelled {source, reason}):
//   replay_row_rejected     the row is skipped: field_count (garbage, too many or too few fields,
//                           a truncated last line), unterminated_quote, bad_quote, row_too_long,
//                           bad_time, ambiguous_time (on_ambiguous = "skip"), out_of_order
//                           (on_out_of_order = "skip")
//   replay_time_ambiguous   a local time repeated at a DST fall-back (resolved per on_ambiguous)
//                           or skipped by a spring-forward (read with the offset before the gap)
//   replay_row_out_of_order a row older than the newest row so far. Kept by default: the file is
//                           not reordered; pacing follows the newest time seen, so an old row is
//                           released at once
//   replay_report_summary   at the end of each pass when more than max_reported_rows events were
//                           due: the number not reported individually, by reason
//   replay_finished         at the end of the file (not when looping), with the counts
//   replay_error            the file can no longer be opened (severity high); Finished() turns
//                           true since nothing more can be delivered
// Every event message reads "replay '<name>': <file>:<line>: <what>" and its payload holds file,
// line, reason and detail. Metrics: pf_replay_rows_total{source} (data rows read),
// pf_replay_rows_rejected_total{source,reason}, pf_replay_cells_rejected_total{source,reason},
// pf_replay_time_issues_total{source,kind=ambiguous|nonexistent|out_of_order},
// pf_replay_samples_total{source}.
//
// Times: source time = the row's time (local times mapped to UTC with the file's IANA zone);
// receive time = the wall clock at emission; seq strictly increasing per source over all
// samples and blocks. loop = true starts over at the end with times shifted forward by the
// file's span plus one row interval, so time keeps moving forward.
//
// Threads: Start() launches one reader thread; Stop() interrupts pacing sleeps and joins it.
// SampleSink::Write blocks under backpressure, which pauses the file read. Memory is bounded by
// one row (one block per channel for waveforms), whatever the file size.
#include "connect/source.h"

namespace pf {

ConnectorInfo ReplayConnector();

}  // namespace pf
