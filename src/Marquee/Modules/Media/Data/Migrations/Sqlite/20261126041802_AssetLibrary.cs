using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Media.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class AssetLibrary : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "media_library_items",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Note = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    PipelineAssetId = table.Column<Guid>(type: "TEXT", nullable: true),
                    CurrentVersion = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_media_library_items", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "media_library_tags",
                columns: table => new
                {
                    ItemId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Tag = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_media_library_tags", x => new { x.ItemId, x.Tag });
                    table.ForeignKey(
                        name: "FK_media_library_tags_media_library_items_ItemId",
                        column: x => x.ItemId,
                        principalTable: "media_library_items",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "media_library_versions",
                columns: table => new
                {
                    ItemId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Number = table.Column<int>(type: "INTEGER", nullable: false),
                    Path = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    FileName = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    SizeBytes = table.Column<long>(type: "INTEGER", nullable: false),
                    Sha256 = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Container = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    DurationMs = table.Column<long>(type: "INTEGER", nullable: true),
                    VideoCodec = table.Column<string>(type: "TEXT", maxLength: 50, nullable: true),
                    AudioCodec = table.Column<string>(type: "TEXT", maxLength: 50, nullable: true),
                    Width = table.Column<int>(type: "INTEGER", nullable: true),
                    Height = table.Column<int>(type: "INTEGER", nullable: true),
                    ProbeJson = table.Column<string>(type: "TEXT", nullable: true),
                    Actor = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_media_library_versions", x => new { x.ItemId, x.Number });
                    table.ForeignKey(
                        name: "FK_media_library_versions_media_library_items_ItemId",
                        column: x => x.ItemId,
                        principalTable: "media_library_items",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_media_library_items_PipelineAssetId",
                table: "media_library_items",
                column: "PipelineAssetId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_media_library_items_TitleId",
                table: "media_library_items",
                column: "TitleId");

            migrationBuilder.CreateIndex(
                name: "IX_media_library_tags_Tag",
                table: "media_library_tags",
                column: "Tag");

            migrationBuilder.CreateIndex(
                name: "IX_media_library_versions_Sha256",
                table: "media_library_versions",
                column: "Sha256");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "media_library_tags");

            migrationBuilder.DropTable(
                name: "media_library_versions");

            migrationBuilder.DropTable(
                name: "media_library_items");
        }
    }
}
