//! The message being received, kept in memory while small and moved to an
//! anonymous temporary file once it grows, so that a connection's memory
//! stays bounded whatever the message size.

use std::io::{self, SeekFrom};
use tokio::{
    fs::File,
    io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt},
};

#[derive(Debug)]
pub struct Spool {
    memory_limit: usize,
    len: u64,
    buffer: Buffer,
}

#[derive(Debug)]
enum Buffer {
    Memory(Vec<u8>),
    File(File),
}

impl Spool {
    pub fn new(memory_limit: usize) -> Self {
        Self {
            memory_limit,
            len: 0,
            buffer: Buffer::Memory(Vec::new()),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Buffer::Memory(memory) = &mut self.buffer {
            if memory.len() + bytes.len() <= self.memory_limit {
                memory.extend_from_slice(bytes);
                self.len += bytes.len() as u64;
                return Ok(());
            }
            let mut file = File::from_std(tokio::task::spawn_blocking(tempfile::tempfile).await??);
            file.write_all(memory).await?;
            self.buffer = Buffer::File(file);
        }
        if let Buffer::File(file) = &mut self.buffer {
            file.write_all(bytes).await?;
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The whole message, in a buffer with `room` bytes to spare (for a
    /// header put on top without moving the message to a larger buffer).
    /// The temporary file, if any, goes with the spool.
    pub async fn into_bytes(self, room: usize) -> io::Result<Vec<u8>> {
        match self.buffer {
            Buffer::Memory(mut memory) => {
                memory.reserve(room);
                Ok(memory)
            }
            Buffer::File(mut file) => {
                file.flush().await?;
                file.seek(SeekFrom::Start(0)).await?;
                // The room also spares read_to_end a doubling of the buffer
                // when it looks for the end of the file.
                let mut bytes = Vec::with_capacity(self.len as usize + room.max(32));
                file.read_to_end(&mut bytes).await?;
                Ok(bytes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_messages_stay_in_memory() {
        let mut spool = Spool::new(16);
        spool.write(b"0123456789").await.unwrap();
        assert!(matches!(spool.buffer, Buffer::Memory(_)));
        assert_eq!(spool.into_bytes(0).await.unwrap(), b"0123456789");
    }

    #[tokio::test]
    async fn large_messages_move_to_a_file_intact() {
        let mut spool = Spool::new(16);
        let mut expected = Vec::new();
        for i in 0..100u8 {
            let chunk = [i; 7];
            spool.write(&chunk).await.unwrap();
            expected.extend_from_slice(&chunk);
        }
        assert!(matches!(spool.buffer, Buffer::File(_)));
        assert_eq!(spool.len(), 700);
        assert_eq!(spool.into_bytes(0).await.unwrap(), expected);
    }
}
