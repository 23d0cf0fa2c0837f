//! Arrow IPC streams, built with arrow-ipc's own writer (with and without compressed buffers), cut
//! into odd pieces and fed to the engine through a test source: the Parquet read back, and every
//! refusal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::{
    BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    IntervalYearMonthArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use arrow_ipc::CompressionType;
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow_schema::{DataType, Field, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::download::schema::Schema;
use crate::download::source::Body;
use crate::download::test_source::{MemoryPartition, MemorySource};
use crate::download::{DownloadBuilder, DownloadReport, Format, Manifest};

/// The download's schema: what a family would build from the service's metadata.
fn schema() -> Schema {
    let decimal = ColumnType::Decimal {
        precision: 18,
        scale: 2,
    };
    Schema::new(vec![
        Column::new("Id", ColumnType::Int32, false).unique(true),
        Column::new("Big", ColumnType::Int64, true),
        Column::new("Amount", decimal, true),
        Column::new("Ratio", ColumnType::Float64, true),
        Column::new("Flag", ColumnType::Boolean, true),
        Column::new("Day", ColumnType::Date, true),
        Column::new("At", ColumnType::TimestampMicros, true),
        Column::new("Local", ColumnType::TimestampNtzMicros, true),
        Column::new("Note", ColumnType::Utf8, true),
    ])
}

/// Rows `first..first + count` as the service sends them: its names in its own case, its
/// instants in a zone named `Etc/UTC`; every third row's nullable values null.
fn batch(first: i32, count: i32) -> RecordBatch {
    let ids: Vec<i32> = (first..first + count).collect();
    let some = |i: &i32| i % 3 != 2;
    let fields = vec![
        Field::new("id", DataType::Int32, false),
        Field::new("big", DataType::Int64, true),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new("ratio", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("day", DataType::Date32, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("Etc/UTC".into())),
            true,
        ),
        Field::new(
            "local",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
        Field::new("note", DataType::Utf8, true),
    ];
    let micros = |i: &i32| 1_704_164_645_123_456 + i64::from(*i) * 1_000_001;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(ids.clone())),
        Arc::new(Int64Array::from_iter(
            ids.iter()
                .map(|i| some(i).then(|| -9_000_000_000 * i64::from(*i))),
        )),
        Arc::new(
            Decimal128Array::from_iter(ids.iter().map(|i| some(i).then(|| i128::from(*i) * 101)))
                .with_precision_and_scale(18, 2)
                .unwrap(),
        ),
        Arc::new(Float64Array::from_iter(
            ids.iter().map(|i| some(i).then(|| f64::from(*i) / 4.0)),
        )),
        Arc::new(BooleanArray::from_iter(
            ids.iter().map(|i| some(i).then_some(i % 2 == 0)),
        )),
        Arc::new(Date32Array::from_iter(
            ids.iter().map(|i| some(i).then_some(19_724 + i)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter(ids.iter().map(|i| some(i).then(|| micros(i))))
                .with_timezone("Etc/UTC"),
        ),
        Arc::new(TimestampMicrosecondArray::from_iter(
            ids.iter().map(|i| some(i).then(|| micros(i))),
        )),
        Arc::new(StringArray::from_iter(ids.iter().map(|i| {
            some(i).then(|| format!("a, \"quoted\" {i}\nsecond line"))
        }))),
    ];
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap()
}

/// `batches` as one IPC stream, its buffers compressed so.
fn stream_of(batches: &[RecordBatch], compression: Option<CompressionType>) -> Vec<u8> {
    let options = IpcWriteOptions::default()
        .try_with_compression(compression)
        .unwrap();
    let schema = batches[0].schema();
    let mut writer = StreamWriter::try_new_with_options(Vec::new(), &schema, options).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.into_inner().unwrap()
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    reader.map(|batch| batch.unwrap()).collect()
}

/// Every row of `batches`, each value as its display text (an instant in UTC, whatever its zone's
/// name), so that what was sent and what was read back compare by value.
fn rows_of(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("<null>");
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<ArrayRef> = batch.columns().iter().map(displayable).collect();
        let shown: Vec<ArrayFormatter> = (columns.iter())
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(shown.iter().map(|s| s.value(row).to_string()).collect());
        }
    }
    rows
}

/// The Parquet file's Arrow types are the schema's.
fn assert_typed(batches: &[RecordBatch]) {
    let parquet = ParquetSchema::new(Arc::new(schema())).unwrap();
    let written: Vec<&DataType> = batches[0]
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.data_type())
        .collect();
    let wanted: Vec<&DataType> = parquet
        .arrow
        .fields()
        .iter()
        .map(|f| f.data_type())
        .collect();
    assert_eq!(written, wanted);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("haul-ipc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn download(
    source: MemorySource,
    target: &Path,
    configure: impl FnOnce(DownloadBuilder) -> DownloadBuilder,
    folder: bool,
) -> Result<DownloadReport> {
    let builder = DownloadBuilder::new(Arc::new(source))
        .format(Format::parquet())
        .schema(schema())
        .concurrency(1);
    let builder = configure(builder);
    match folder {
        true => builder.to_dir(target).await,
        false => builder.to_file(target).await,
    }
}

#[tokio::test]
async fn streams_in_odd_pieces_read_back_equal_with_and_without_compressed_buffers() {
    let dir = scratch("equal");
    for compression in [
        None,
        Some(CompressionType::LZ4_FRAME),
        Some(CompressionType::ZSTD),
    ] {
        let partitions = [
            vec![batch(0, 3), batch(3, 4)],
            vec![batch(7, 0)],
            vec![batch(7, 5)],
        ];
        let source = MemorySource::new(
            Body::ArrowStream,
            (partitions.iter())
                .map(|batches| {
                    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                    MemoryPartition::cut(&stream_of(batches, compression), Some(rows))
                })
                .collect(),
        );
        let target = dir.join(format!("{compression:?}"));
        let report = download(source, &target, |b| b, true).await.unwrap();
        assert_eq!((report.pages, report.records), (3, 12), "{compression:?}");
        for (index, batches) in partitions.iter().enumerate() {
            let written = read_parquet(&target.join(format!("part-{index:05}.parquet")));
            assert_eq!(
                rows_of(&written),
                rows_of(batches),
                "{compression:?} {index}"
            );
            if let Some(first) = written.first() {
                assert_typed(std::slice::from_ref(first));
            }
        }
        let manifest = std::fs::read(target.join("_manifest.json")).unwrap();
        let manifest = Manifest::parse(&manifest, "test").unwrap();
        assert_eq!(manifest.rows, 12);
        let names: Vec<&str> = manifest.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[..3], ["id", "big", "amount"], "the stream's names");
        assert_eq!(manifest.columns[6].ty, Some(ColumnType::TimestampMicros));
    }
    // The values themselves, once, as a reader sees them.
    let written = read_parquet(&dir.join("None").join("part-00000.parquet"));
    let notes = written[0].column(8).as_string::<i32>();
    assert_eq!(notes.value(1), "a, \"quoted\" 1\nsecond line");
    assert!(notes.is_null(2));
    let at = written[0].column(6);
    assert_eq!(
        at.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_partition_beyond_the_memory_budget_spills_and_one_file_reads_back_equal() {
    let dir = scratch("spill");
    let partitions = [vec![batch(0, 40)], vec![batch(40, 30), batch(70, 30)]];
    let source = MemorySource::new(
        Body::ArrowStream,
        (partitions.iter())
            .map(|batches| {
                let stream = stream_of(batches, Some(CompressionType::LZ4_FRAME));
                MemoryPartition::cut(&stream, None)
            })
            .collect(),
    );
    let file = dir.join("out.parquet");
    let report = download(source, &file, |b| b.memory(0), false)
        .await
        .unwrap();
    assert_eq!((report.pages, report.records), (2, 100));
    let sent: Vec<RecordBatch> = partitions.into_iter().flatten().collect();
    let written = read_parquet(&file);
    assert_eq!(rows_of(&written), rows_of(&sent));
    assert_typed(&written);
    assert!(!dir.join("out.parquet.haul-parts").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_row_count_other_than_the_declared_one_is_an_integrity_error() {
    let dir = scratch("count");
    let stream = stream_of(&[batch(0, 3)], None);
    let source = MemorySource::new(
        Body::ArrowStream,
        vec![MemoryPartition::cut(&stream, Some(4))],
    );
    let error = download(source, &dir.join("out"), |b| b, true)
        .await
        .unwrap_err();
    assert!(error.is_integrity(), "{error}");
    assert!(
        error.to_string().contains("says 4 rows, the body holds 3"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_value_that_does_not_fit_is_refused_with_its_row_in_the_whole_result() {
    let dir = scratch("refused");
    let mut late = batch(3, 4);
    // The second partition's second row holds a Big that the service sends as a string, and
    // one that does not read as an integer.
    let bigs = StringArray::from(vec![Some("12"), Some("1.5"), None, Some("7")]);
    let mut columns = late.columns().to_vec();
    columns[1] = Arc::new(bigs);
    let mut fields: Vec<Field> = late
        .schema()
        .fields()
        .iter()
        .map(|f| (**f).clone())
        .collect();
    fields[1] = Field::new("big", DataType::Utf8, true);
    late = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap();
    let source = MemorySource::new(
        Body::ArrowStream,
        vec![
            MemoryPartition::cut(&stream_of(&[batch(0, 3)], None), Some(3)),
            MemoryPartition::cut(&stream_of(&[late], None), Some(4)),
        ],
    );
    let error = download(source, &dir.join("out"), |b| b, true)
        .await
        .unwrap_err();
    let Error::InvalidValue {
        row, column, value, ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!((*row, column.as_str(), value.as_str()), (5, "Big", "1.5"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One column of `values` named `name`, encoded as a partition alone, against a one-column
/// schema of `ty`.
fn encode_one(name: &str, values: ArrayRef, ty: ColumnType, nullable: bool) -> Result<u64> {
    let schema = Schema::new(vec![Column::new("Value", ty, nullable)]);
    let fields = vec![Field::new(name, values.data_type().clone(), true)];
    let batch =
        RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), vec![values]).unwrap();
    let parquet = Arc::new(ParquetSchema::new(Arc::new(schema))?);
    let mut encoder = ArrowEncoder::new(parquet, Compression::Zstd)?;
    let mut out = Vec::new();
    for piece in MemoryPartition::cut(&stream_of(&[batch], None), None).pieces {
        encoder.feed(piece, &mut out)?;
    }
    encoder.finish(&mut out)?;
    Ok(encoder.rows())
}

fn refused_at(result: Result<u64>) -> (u64, String, String) {
    match result {
        Err(Error::InvalidValue {
            row,
            value,
            expected,
            ..
        }) => (row, value, expected),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_overflow_or_a_lossy_cast_is_refused_and_a_lossless_one_is_not() {
    let int64 = |values: Vec<i64>| Arc::new(Int64Array::from(values)) as ArrayRef;
    let (row, value, expected) = refused_at(encode_one(
        "value",
        int64(vec![1, 1 << 40]),
        ColumnType::Int32,
        true,
    ));
    assert_eq!((row, value.as_str()), (2, "1099511627776"), "{expected}");
    let floats = Arc::new(Float64Array::from(vec![2.0, 2.5, 3.0])) as ArrayRef;
    let (row, value, expected) = refused_at(encode_one("value", floats, ColumnType::Int64, true));
    assert_eq!((row, value.as_str()), (2, "2.5"));
    assert!(expected.contains("would not keep its value"), "{expected}");
    let nanos = Arc::new(TimestampNanosecondArray::from(vec![1_000, 1_001]).with_timezone("UTC"));
    let (row, ..) = refused_at(encode_one(
        "value",
        nanos,
        ColumnType::TimestampMicros,
        true,
    ));
    assert_eq!(row, 2, "a nanosecond is lost as microseconds");
    let decimal = ColumnType::Decimal {
        precision: 4,
        scale: 2,
    };
    let wide = Decimal128Array::from(vec![1_234, 12_345])
        .with_precision_and_scale(10, 2)
        .unwrap();
    let (row, value, _) = refused_at(encode_one("value", Arc::new(wide), decimal, true));
    assert_eq!((row, value.as_str()), (2, "123.45"));
    // Within range, the same values in a wider type, or an exact float, pass.
    assert_eq!(
        encode_one("value", int64(vec![1, -7]), ColumnType::Int32, true).unwrap(),
        2
    );
    let exact = Arc::new(Float64Array::from(vec![2.0, -3.0])) as ArrayRef;
    assert_eq!(
        encode_one("value", exact, ColumnType::Int64, true).unwrap(),
        2
    );
}

#[test]
fn a_null_where_the_schema_allows_none_is_refused() {
    let values = Arc::new(Int32Array::from(vec![Some(1), Some(2), None])) as ArrayRef;
    let (row, value, expected) = refused_at(encode_one("VALUE", values, ColumnType::Int32, false));
    assert_eq!((row, value.as_str()), (3, ""));
    assert!(expected.contains("may not be null"), "{expected}");
    // A column of nulls only is nulls of any type where they are allowed.
    let nulls = Arc::new(arrow_array::NullArray::new(2)) as ArrayRef;
    assert_eq!(
        encode_one("value", nulls.clone(), ColumnType::TimestampMicros, true).unwrap(),
        2
    );
    let (row, ..) = refused_at(encode_one("value", nulls, ColumnType::Int32, false));
    assert_eq!(row, 1);
}

#[test]
fn nested_binary_and_interval_values_become_their_display_text_where_the_schema_says_text() {
    let mut lists = ListBuilder::new(Int32Builder::new());
    lists.values().append_value(1);
    lists.values().append_null();
    lists.append(true);
    lists.append(false);
    let lists = Arc::new(lists.finish()) as ArrayRef;
    let texts = to_type(&lists, ColumnType::Utf8).ok().unwrap();
    let texts = texts.as_string::<i32>();
    assert_eq!(texts.value(0), "[1, null]");
    assert!(texts.is_null(1), "a null list stays null");
    let bytes = Arc::new(BinaryArray::from(vec![&b"\x01\xff"[..]])) as ArrayRef;
    let texts = to_type(&bytes, ColumnType::Utf8).ok().unwrap();
    assert_eq!(texts.as_string::<i32>().value(0), "01ff");
    let months = Arc::new(IntervalYearMonthArray::from(vec![14])) as ArrayRef;
    let texts = to_type(&months, ColumnType::Utf8).ok().unwrap();
    assert_eq!(texts.as_string::<i32>().value(0), "1 years 2 mons");
    // Text where the schema says a number is read by the CSV rules.
    let counts = Arc::new(StringArray::from(vec!["12", "-3"])) as ArrayRef;
    assert_eq!(
        encode_one("value", counts, ColumnType::Int32, false).unwrap(),
        2
    );
}

#[test]
fn instants_are_read_whatever_their_zones_name_and_never_as_wall_clock_readings() {
    let micros = TimestampMicrosecondArray::from(vec![1_704_164_645_123_456]);
    let named = Arc::new(micros.clone().with_timezone("America/New_York")) as ArrayRef;
    let read = to_type(&named, ColumnType::TimestampMicros).ok().unwrap();
    assert_eq!(
        read.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(read.to_data().buffers(), named.to_data().buffers());
    let error = encode_one("value", named, ColumnType::TimestampNtzMicros, true).unwrap_err();
    assert!(error.is_integrity(), "{error}");
    let naive = Arc::new(micros) as ArrayRef;
    let error = encode_one("value", naive, ColumnType::TimestampMicros, true).unwrap_err();
    assert!(error.is_integrity(), "{error}");
}

#[test]
fn a_stream_whose_columns_are_not_the_schemas_is_refused() {
    let bytes = Arc::new(BinaryArray::from(vec![&b"1"[..]])) as ArrayRef;
    let error = encode_one("value", bytes, ColumnType::Int32, true).unwrap_err();
    assert!(error.is_integrity(), "{error}");
    assert!(error.to_string().contains("cannot be read as"), "{error}");
    let values = Arc::new(Int32Array::from(vec![1])) as ArrayRef;
    let error = encode_one("other", values, ColumnType::Int32, true).unwrap_err();
    assert!(error.is_integrity(), "{error}");
    assert!(error.to_string().contains("\"other\""), "{error}");
}

#[test]
fn a_stream_cut_short_or_without_a_schema_is_an_integrity_error() {
    let parquet = || Arc::new(ParquetSchema::new(Arc::new(schema())).unwrap());
    let stream = stream_of(&[batch(0, 3)], None);
    let mut encoder = ArrowEncoder::new(parquet(), Compression::Zstd).unwrap();
    let mut out = Vec::new();
    encoder
        .feed(
            Bytes::copy_from_slice(&stream[..stream.len() / 2]),
            &mut out,
        )
        .unwrap();
    let error = encoder.finish(&mut out).unwrap_err();
    assert!(error.is_integrity(), "{error}");
    let mut empty = ArrowEncoder::new(parquet(), Compression::Zstd).unwrap();
    let error = empty.finish(&mut out).unwrap_err();
    assert!(error.to_string().contains("no schema"), "{error}");
}

#[tokio::test]
async fn an_interrupted_download_resumes_after_its_last_written_partition() {
    let dir = scratch("resume");
    let target = dir.join("out");
    let partitions: Vec<MemoryPartition> = [(0, 5), (5, 5), (10, 5)]
        .iter()
        .map(|&(first, count)| {
            let stream = stream_of(&[batch(first, count)], Some(CompressionType::ZSTD));
            MemoryPartition::cut(&stream, Some(count as u64))
        })
        .collect();
    let mut failing = partitions.clone();
    failing[2].refuse = true;
    let resume = |b: DownloadBuilder| b.resume(true);
    let source = MemorySource::new(Body::ArrowStream, failing);
    let error = download(source, &target, resume, true).await.unwrap_err();
    assert!(error.to_string().contains("refuses p2"), "{error}");
    assert!(target.join("part-00001.parquet").exists());
    let source = MemorySource::new(Body::ArrowStream, partitions);
    let report = download(source, &target, resume, true).await.unwrap();
    assert_eq!(
        (report.pages, report.resumed_pages, report.records),
        (3, 2, 15)
    );
    let written: Vec<RecordBatch> = (0..3)
        .flat_map(|i| read_parquet(&target.join(format!("part-{i:05}.parquet"))))
        .collect();
    assert_eq!(rows_of(&written), rows_of(&[batch(0, 15)]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_arrow_body_for_csv_output_is_refused_before_anything_is_fetched() {
    let dir = scratch("csv");
    let mut refused = MemoryPartition::cut(b"never read", None);
    refused.refuse = true;
    let source = MemorySource::new(Body::ArrowStream, vec![refused]);
    let error = DownloadBuilder::new(Arc::new(source))
        .format(Format::Jsonl)
        .to_dir(dir.join("out"))
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert!(!dir.join("out").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
