DROP TABLE filters;
DROP TABLE rejections;
