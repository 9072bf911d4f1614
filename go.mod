module github.com/seed-a452aa33/allsourceauth

go 1.24

require github.com/google/uuid v1.6.0

require github.com/stretchr/testify v1.11.1 // indirect
